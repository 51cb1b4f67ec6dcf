#!/usr/bin/env bash
# The .deb installed with apt into a fresh Debian 12 root (debootstrap,
# minbase; needs root and the network to deb.debian.org, so it is not part
# of the default test run): the user, the folders, the first admin password,
# --check as the service user, then the daemon started as that user (no
# systemd in a chroot) inside a private network namespace, where proxyctl
# logs in with the generated password and adds a user; then a purge.
#
#   bash tests/package/fresh_root.sh [BUILD_DIR]     (default: build)
#
# The bootstrapped root is kept in BUILD_DIR/fresh-root/base for the next
# run; every run installs into a copy of it.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
work="$build/fresh-root"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$work"

if [ ! -x "$work/base/usr/bin/apt-get" ]; then
  rm -rf "$work/base"
  echo "== debootstrap bookworm (minbase) into $work/base"
  debootstrap --variant=minbase bookworm "$work/base" "$mirror" >"$work/debootstrap.log"
fi

echo "== cpack"
rm -rf "$work/deb"
cpack --config "$build/CPackConfig.cmake" -B "$work/deb" >/dev/null
deb=$(ls "$work"/deb/socks5-proxy_*.deb)

root="$work/root"
rm -rf "$root"
cp -a "$work/base" "$root"
cp "$deb" "$root/tmp/socks5-proxy.deb"
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true' EXIT
in_root() { chroot "$root" "$@"; }

echo "== apt-get install ./socks5-proxy.deb"
in_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -qq --no-install-recommends \
  /tmp/socks5-proxy.deb | tee "$work/install.log"

fail() { echo "FAIL: $*"; exit 1; }
echo "== checks"
in_root getent passwd socks5-proxy | grep -q ':/var/lib/socks5-proxy:/usr/sbin/nologin$' \
  || fail "no system user socks5-proxy"
[ "$(in_root stat -c '%U %a' /var/lib/socks5-proxy)" = "socks5-proxy 750" ] || fail "state dir"
[ "$(in_root stat -c '%U %a' /var/log/socks5-proxy)" = "socks5-proxy 750" ] || fail "log dir"
[ "$(in_root stat -c '%U %a' /var/lib/socks5-proxy/initial-admin-password)" = "root 600" ] \
  || fail "password file"
grep -q "initial-admin-password" "$work/install.log" || fail "postinst did not say where the password is"
in_root grep -c '^admin:admin:\$y\$' /var/lib/socks5-proxy/users.txt | grep -qx 1 || fail "admin line"
! in_root grep -q '^demo:' /var/lib/socks5-proxy/users.txt || fail "demo user installed"
in_root runuser -u socks5-proxy -- socks5-proxyd --config /etc/socks5-proxy/proxy.ini --check
in_root man -w socks5-proxyd socks5-proxy.ini proxyctl 2>/dev/null || echo "(man-db is not in minbase)"

echo "== the daemon as socks5-proxy in a private network namespace"
unshare -n bash -s "$root" <<'EOF'
set -euo pipefail
root=$1
ip link set lo up
# setpriv execs (runuser would stay as a parent and take the SIGTERM).
chroot "$root" setpriv --reuid=socks5-proxy --regid=socks5-proxy --init-groups \
  socks5-proxyd --config /etc/socks5-proxy/proxy.ini 2>"$root/tmp/daemon.err" &
pid=$!
for _ in $(seq 100); do grep -q "ready:" "$root/tmp/daemon.err" && break; sleep 0.1; done
grep -q "ready:" "$root/tmp/daemon.err" || { cat "$root/tmp/daemon.err"; exit 1; }
pw=$(cat "$root/var/lib/socks5-proxy/initial-admin-password")
transport=udp
grep -q "kernel SCTP" "$root/tmp/daemon.err" && ! grep -q "over UDP" "$root/tmp/daemon.err" && transport=kernel
PROXYCTL_PASSWORD=$pw PROXYCTL_NEW_PASSWORD=al1ce-pw \
  chroot "$root" proxyctl --transport "$transport" users add alice </dev/null
PROXYCTL_PASSWORD=$pw chroot "$root" proxyctl --transport "$transport" users list </dev/null \
  | grep -qx alice
grep -q '^alice:socks:' "$root/var/lib/socks5-proxy/users.txt"
kill -TERM "$pid"
wait "$pid"
grep -q "shutting down" "$root/tmp/daemon.err"
EOF

echo "== apt-get purge"
DEBIAN_FRONTEND=noninteractive in_root apt-get purge -y -qq socks5-proxy >/dev/null 2>&1
[ ! -e "$root/var/lib/socks5-proxy" ] && [ ! -e "$root/etc/socks5-proxy" ] || fail "purge left files"
echo "PASS: fresh Debian 12 root"
