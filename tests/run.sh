#!/usr/bin/env bash
# Builds the project twice (release with debug info, and ASan+UBSan) and runs
# every CTest test in both builds, then every fuzz target for a few seconds
# (tests/fuzz/run.sh, clang; PROXY_FUZZ_SECONDS=N sets the time per target,
# 0 skips the fuzz tier). Usage: bash tests/run.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DPROXY_SANITIZERS=address,undefined >/dev/null
cmake --build build-asan -j "$jobs"
echo "== release build"
ctest --test-dir build --output-on-failure "$@"
echo "== ASan+UBSan build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tests/ubsan.supp \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
  ctest --test-dir build-asan --output-on-failure "$@"
fuzz_seconds=${PROXY_FUZZ_SECONDS:-5}
if [[ $fuzz_seconds != 0 ]]; then
  echo "== fuzz targets, ${fuzz_seconds} s each (long runs: docs/fuzzing.md)"
  bash tests/fuzz/run.sh "$fuzz_seconds"
fi
