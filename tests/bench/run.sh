#!/usr/bin/env bash
# The project's benchmark (never part of the test run). Builds, starts our
# proxy (and with --compare microsocks and Dante from Debian) on loopback, and
# runs every scenario direct and through each server in one run; results are
# printed as ratios to direct.
#
#   bash tests/bench/run.sh [--compare] [--copy] [--before=PROXY_BINARY] [--seconds S]
#                           [--idle N] [--mib M] [--only PREFIX] [--stall-rounds R]
#
# --before=BIN also runs another build of our proxy (e.g. an older commit's
# build/actors/proxy) as "before", with the same config, in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
compare=0
splice=true
before_bin=
args=()
for a in "$@"; do
  case "$a" in
    --compare) compare=1 ;;
    --copy) splice=false ;; # our relay copies through memory instead of splice
    --before=*) before_bin=${a#--before=} ;;
    *) args+=("$a") ;;
  esac
done
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
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
# start_ours NAME BINARY PORT: our proxy on the bench config, as a target.
targets=()
start_ours() {
  sed "s/^listen = .*/listen = 127.0.0.1:$3/" "$tmp/proxy.ini" > "$tmp/$1.ini"
  "$2" --config "$tmp/$1.ini" 2> "$tmp/$1.log" &
  pids+=($!)
  local pid=$!
  for _ in $(seq 100); do grep -q "ready:" "$tmp/$1.log" && break; sleep 0.05; done
  targets+=("$1=127.0.0.1:$3:bench:bench:$pid")
}
start_ours ours ./build/actors/proxy "$ours_listen"
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
