#!/usr/bin/env bash
# The project's benchmark (never part of the test run). Builds, starts our
# proxy (and with --compare microsocks and Dante from Debian) on loopback, and
# runs every scenario direct and through each server in one run; results are
# printed as ratios to direct.
#
#   bash tests/bench/run.sh [--compare] [--copy] [--before=PROXY_BINARY]
#                           [--variants[=LIST]] [--build-type=TYPE] [--seconds S]
#                           [--idle N] [--mib M] [--only PREFIX] [--stall-rounds R]
#
# --before=BIN also runs another build of our proxy (e.g. an older commit's
# build/actors/proxy) as "before", with the same config, in the same run.
#
# --variants runs our proxy three times side by side, each its own process on
# the same base config, to show what access rules and limits cost (issue 14):
#   ours    no [rules], no [limits] (the default run's only row of ours)
#   rules   ten [rules] that never block the bench's traffic: nine blocks
#           (ports, private and link-local blocks, fc00::/7, names, users,
#           BIND) are walked before the tenth, "pass client=127.0.0.0/8",
#           matches; default = block
#   limits  the same ten rules plus every [limits] key set far above what
#           the bench reaches (1000000 sessions and connects per second per
#           user and per address, 100G per user and direction)
# --variants=LIST runs only those, in that order (e.g. limits,rules,ours), so
# repeated runs can alternate the order. Compare CPU per connection and per
# GiB between the rows of one run; across runs the machine's noise dominates.
#
# --build-type=TYPE configures build/ with CMAKE_BUILD_TYPE=TYPE (default
# RelWithDebInfo); with TYPE matching an existing build/, nothing rebuilds.
set -euo pipefail
cd "$(dirname "$0")/../.."
compare=0
splice=true
before_bin=
variants=ours
build_type=RelWithDebInfo
args=()
for a in "$@"; do
  case "$a" in
    --compare) compare=1 ;;
    --copy) splice=false ;; # our relay copies through memory instead of splice
    --before=*) before_bin=${a#--before=} ;;
    --variants) variants=ours,rules,limits ;;
    --variants=*) variants=${a#--variants=} ;;
    --build-type=*) build_type=${a#--build-type=} ;;
    *) args+=("$a") ;;
  esac
done
for v in ${variants//,/ }; do
  case "$v" in
    ours | rules | limits) ;;
    *) echo "--variants: '$v' is not one of ours, rules, limits" >&2; exit 2 ;;
  esac
done
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
cmake --build build --target proxy bench >/dev/null
ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# Every server and target gets a fixed port below the ephemeral range: a run
# leaves tens of thousands of TIME_WAIT sockets behind, and on this kernel
# (gVisor) they exhaust the ephemeral ports that bind(port 0) draws from,
# while connect() may still reuse them.
free_port() {
  python3 - "$@" <<'PY'
import random, socket, sys
taken = {int(p) for p in sys.argv[1:]}
for _ in range(200):
    p = random.randrange(20000, 32000)
    if p in taken:
        continue
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
            s.close()
    except OSError:
        continue
    print(p)
    break
PY
}
used=()
next_port() { free_port "${used[@]}"; }  # (a subshell: callers add to used)
echo_port=$(next_port); used+=("$echo_port")
udp_port=$(next_port); used+=("$udp_port")
ours_listen=$(next_port); used+=("$ours_listen")

PROXY_PASSWORD=bench ./build/actors/proxy --hash-user bench > "$tmp/users.txt"
cat > "$tmp/proxy.ini" <<INI
[socks]
listen = 127.0.0.1:$ours_listen
users_file = users.txt
max_clients = 100000
idle_timeout = 10m
[server]
access_log = off
splice = $splice
[admin]
spcp_listen = off
manager_listen = off
INI
# With --variants or --before several of ours run at once: none opens the
# Prometheus port (127.0.0.1:9464 by default; only one process could have it).
common=()
if [ "$variants" != ours ] || [ -n "$before_bin" ]; then
  printf '[prometheus]\nlisten = off\n' > "$tmp/noprom.section"
  common=("$tmp/noprom.section")
fi
# Ten rules that let the bench's traffic through (CONNECT and UDP to
# 127.0.0.1, user "bench", client 127.0.0.1): the first nine are checked
# and miss, the tenth passes.
cat > "$tmp/rules.section" <<'INI'
[rules]
rule = block port=25,465,587
rule = block port=137-139,445
rule = block dest=10.0.0.0/8
rule = block dest=172.16.0.0/12,192.168.0.0/16
rule = block dest=169.254.0.0/16
rule = block dest=fc00::/7,fe80::/10
rule = block dest=*.example.invalid,.onion,metadata.google.internal
rule = block user=guest,intern
rule = block command=bind
rule = pass client=127.0.0.0/8
default = block
INI
# Every limit on, none ever reached by the bench.
cat > "$tmp/limits.section" <<'INI'
[limits]
user_sessions = 1000000
user_connect_rate = 1000000
user_bandwidth_up = 100G
user_bandwidth_down = 100G
source_sessions = 1000000
source_connect_rate = 1000000
INI
# start_ours NAME BINARY PORT [EXTRA_INI...]: our proxy on the bench config
# (plus the sections in EXTRA_INI), as a target.
targets=()
start_ours() {
  local name=$1 bin=$2 port=$3
  shift 3
  sed "s/^listen = .*/listen = 127.0.0.1:$port/" "$tmp/proxy.ini" > "$tmp/$name.ini"
  for extra in "$@"; do cat "$extra" >> "$tmp/$name.ini"; done
  "$bin" --config "$tmp/$name.ini" 2> "$tmp/$name.log" &
  pids+=($!)
  local pid=$!
  for _ in $(seq 100); do grep -q "ready:" "$tmp/$name.log" && break; sleep 0.05; done
  if ! grep -q "ready:" "$tmp/$name.log"; then
    echo "$name did not start:" >&2
    cat "$tmp/$name.log" >&2
    exit 1
  fi
  targets+=("$name=127.0.0.1:$port:bench:bench:$pid")
}
for v in ${variants//,/ }; do
  if [ "$v" = ours ]; then
    p=$ours_listen
  else
    p=$(next_port); used+=("$p")
  fi
  case "$v" in
    ours) start_ours ours ./build/actors/proxy "$p" ${common[@]+"${common[@]}"} ;;
    rules) start_ours rules ./build/actors/proxy "$p" ${common[@]+"${common[@]}"} "$tmp/rules.section" ;;
    limits)
      start_ours limits ./build/actors/proxy "$p" ${common[@]+"${common[@]}"} \
        "$tmp/rules.section" "$tmp/limits.section" ;;
  esac
done
if [ -n "$before_bin" ]; then
  p=$(next_port); used+=("$p")
  start_ours before "$before_bin" "$p"
fi
if [ "$compare" = 1 ]; then
  if command -v microsocks >/dev/null; then
    p=$(next_port); used+=("$p")
    microsocks -i 127.0.0.1 -p "$p" -u bench -P bench >/dev/null 2>&1 &
    pids+=($!)
    targets+=("microsocks=127.0.0.1:$p:bench:bench:$!")
  else
    echo "microsocks not installed (apt-get install microsocks)" >&2
  fi
  if command -v sockd >/dev/null || [ -x /usr/sbin/danted ]; then
    d=$(command -v sockd || echo /usr/sbin/danted)
    p=$(next_port); used+=("$p")
    cat > "$tmp/sockd.conf" <<CONF
logoutput: /dev/null
internal: 127.0.0.1 port = $p
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect udpassociate bindreply udpreply }
CONF
    "$d" -f "$tmp/sockd.conf" >/dev/null 2>&1 &
    pids+=($!)
    # Dante forks worker processes: its CPU is not read (no pid), and it
    # runs without authentication (Debian's Dante checks system users).
    targets+=("dante=127.0.0.1:$p")
  else
    echo "Dante not installed (apt-get install dante-server)" >&2
  fi
  sleep 0.5
fi
./build/tests/bench --echo-port "$echo_port" --udp-port "$udp_port" "${args[@]}" "${targets[@]}"
