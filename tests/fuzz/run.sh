#!/usr/bin/env bash
# Builds the fuzz targets (clang, libFuzzer + ASan + UBSan) in build-fuzz/ and
# runs each for SECONDS (default 10) on a scratch copy of its seed corpus
# (with tests/fuzz/dict/TARGET.dict when there is one), so
# the repository is not modified. Exits non-zero when a target stops on a
# crash, a sanitizer report, a leak or a violated invariant; the input that
# did it is kept in build-fuzz/artifacts/TARGET/ and printed in hex.
# Usage: bash tests/fuzz/run.sh [SECONDS] [TARGET...]   (docs/fuzzing.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
shift || true
build=${PROXY_FUZZ_BUILD:-build-fuzz}
corpora=tests/fuzz/corpus

cmake -S . -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROXY_FUZZ=ON >/dev/null
cmake --build "$build" -j "$(nproc)"

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for dir in "$corpora"/*/; do
    targets+=("$(basename "$dir")")
  done
fi

status=0
# Every target needs a corpus folder, or it would never run.
for bin in "$build"/tests/fuzz/fuzz_*; do
  name=${bin##*/fuzz_}
  if [[ ! -d $corpora/$name ]]; then
    echo "FAIL $name: no seed corpus in $corpora/$name"
    status=1
  fi
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
start=$SECONDS
for name in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$name
  if [[ ! -x $bin ]]; then
    echo "FAIL $name: no target $bin (add it to tests/fuzz/CMakeLists.txt)"
    status=1
    continue
  fi
  artifacts=$build/artifacts/$name
  mkdir -p "$scratch/$name" "$artifacts"
  cp -R "$corpora/$name/." "$scratch/$name/"
  log=$build/artifacts/$name.log
  dict=()
  [[ -f tests/fuzz/dict/$name.dict ]] && dict=(-dict="tests/fuzz/dict/$name.dict")
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
     "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
       "$scratch/$name" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    printf 'ok   %-20s %10s runs %8s exec/s  %s\n' "$name" "$runs" "$speed" "$cov"
  else
    status=1
    echo "FAIL $name (log: $log)"
    grep -E 'invariant violated|ERROR:|runtime error|SUMMARY' "$log" | head -5 || true
    for input in "$artifacts"/*; do
      [[ -f $input ]] || continue
      echo "  input $input:"
      od -An -tx1 -v "$input" | head -20
    done
  fi
done
echo "fuzzing took $((SECONDS - start)) s for ${#targets[@]} targets of ${seconds} s"
exit $status
