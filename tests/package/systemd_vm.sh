#!/usr/bin/env bash
# The .deb under a real systemd: boots Debian 12's own cloud kernel under
# qemu with a debootstrapped Debian 12 root (systemd as PID 1) on a virtio
# disk; in the guest a oneshot unit runs tests/package/systemd_vm_check.sh,
# which installs the package with apt-get, drives the service the way an
# operator would (start, proxyctl, a SOCKS connection, a Prometheus scrape,
# reload, logrotate, a crash, stop, systemd-analyze security) and prints
# "VM: PASS ..." / "VM: FAIL ..." lines on the serial console, then powers
# off. Not part of the default test run (needs root, qemu and, the first
# time, the network to deb.debian.org).
#
#   bash tests/package/systemd_vm.sh DEB [WORKDIR]    (default build/systemd-vm)
#
# WORKDIR keeps the kernel and the bootstrapped root between runs: about
# 4 minutes the first time, 2 after (TCG on 2 cores; docs/packaging.md).
# Environment: SYSTEMD_VM_ACCEL (tcg, the default, or kvm: nested KVM
# failed on the machines this was written on), SYSTEMD_VM_SMP (2),
# SYSTEMD_VM_TIMEOUT (seconds for the whole boot, 900), SYSTEMD_VM_DROPIN
# (a file installed as a drop-in of the unit, to try a change under the
# real systemd), DEBIAN_MIRROR.
# Exit 0: every check passed; 1: a check failed; 77: skipped (not root, or a
# tool is missing).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ $# -ge 1 ] || { echo "usage: $0 DEB [WORKDIR]" >&2; exit 2; }
DEB=$(realpath "$1")
WORK=$(realpath -m "${2:-$ROOT/build/systemd-vm}")
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ACCEL=${SYSTEMD_VM_ACCEL:-tcg}
SMP=${SYSTEMD_VM_SMP:-2}
TIMEOUT=${SYSTEMD_VM_TIMEOUT:-900}
[ -f "$DEB" ] || { echo "no such package: $DEB" >&2; exit 2; }
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot, mkfs.ext4 -d keeping owners)"
for tool in qemu-system-x86_64 debootstrap mkfs.ext4 cpio apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || skip "$tool not installed"
done
[ -x /bin/busybox ] || skip "busybox-static not installed (the initramfs)"
mkdir -p "$WORK"
cd "$WORK"
t_start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - t_start )) s"; }

# -- the kernel: Debian's cloud kernel, unpacked (as tests/vm/vm_test.sh) ------
KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
  sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -1)
[ -n "$KPKG" ] || skip "cannot find Debian's cloud kernel package (apt-get update?)"
KVER=${KPKG#linux-image-}
if [ ! -f "kroot/boot/vmlinuz-$KVER" ]; then
  echo "== kernel $KPKG"
  rm -rf kroot ./linux-image-*.deb
  apt-get download "$KPKG" >/dev/null 2>&1 || skip "cannot download $KPKG"
  dpkg-deb -x ./"$KPKG"_*.deb kroot
  rm -f ./linux-image-*.deb
fi

# -- the root: Debian 12 with systemd, bootstrapped once -----------------------
# minbase plus systemd as init, dbus (systemctl and systemd-analyze talk to
# PID 1 over it), what the check uses (curl, python3 for a web server,
# logrotate, prometheus for a real scrape, procps) and the package's
# declared dependencies (adduser, init-system-helpers).
BASE=$WORK/base
INCLUDE=systemd,systemd-sysv,dbus,kmod,adduser,init-system-helpers,logrotate,curl,python3,prometheus,procps,iproute2
if [ ! -f "$BASE/.debootstrapped" ]; then
  echo "== debootstrap bookworm into $BASE (once; a few minutes)"
  rm -rf "$BASE"
  debootstrap --variant=minbase --include="$INCLUDE" bookworm "$BASE" "$MIRROR" \
    > debootstrap.log 2>&1 || { tail -20 debootstrap.log; echo "FAIL: debootstrap"; exit 1; }
  touch "$BASE/.debootstrapped"
fi
if [ ! -f "$BASE/.bootstrapped" ]; then
  echo vm > "$BASE/etc/hostname"
  printf '127.0.0.1 localhost vm\n::1 localhost ip6-localhost\n' > "$BASE/etc/hosts"
  : > "$BASE/etc/fstab"          # the root comes from the kernel's command line
  # Nothing but the check on the console, and nothing that reaches for the
  # network or runs apt behind its back; the check starts its own Prometheus.
  for unit in serial-getty@ttyS0.service getty@tty1.service apt-daily.timer \
              apt-daily-upgrade.timer prometheus.service; do
    ln -sf /dev/null "$BASE/etc/systemd/system/$unit"
  done
  touch "$BASE/.bootstrapped"
fi
# The kernel's modules, so that the sctp module loads on demand as on any
# Debian 12 (kernel SCTP for the admin protocols); again when Debian's
# cloud kernel moved on.
if [ ! -f "$BASE/lib/modules/$KVER/modules.dep" ]; then
  rm -rf "$BASE/lib/modules"; mkdir -p "$BASE/lib/modules"
  cp -a "kroot/lib/modules/$KVER" "$BASE/lib/modules/"
  chroot "$BASE" depmod "$KVER"
fi

# The package's dependencies (shlibdeps included) from Debian's archive into
# the base root, so that the guest installs the .deb without a network.
deps=$(dpkg-deb -f "$DEB" Depends)
if [ "$(cat "$BASE/.deps" 2>/dev/null)" != "$deps" ]; then
  echo "== the package's dependencies into the base root: $deps"
  mount -t proc proc "$BASE/proc"
  trap 'umount "$BASE/proc" 2>/dev/null || true' EXIT
  cp /etc/resolv.conf "$BASE/etc/resolv.conf" 2>/dev/null || true
  chroot "$BASE" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive chroot "$BASE" apt-get satisfy -y -qq --no-install-recommends "$deps" \
    > deps.log 2>&1 || { tail -20 deps.log; echo "FAIL: the dependencies"; exit 1; }
  # Without the archive's lists apt-get install ./x.deb reads only dpkg's
  # status: much faster under emulation, and no network needed.
  chroot "$BASE" apt-get clean
  rm -rf "$BASE"/var/lib/apt/lists/*
  umount "$BASE/proc"; trap - EXIT
  echo "$deps" > "$BASE/.deps"
fi

# -- the initramfs: busybox loads virtio_blk, mounts /dev/vda, switch_root -----
# (made every run: it takes a moment)
R=$(mktemp -d)
mkdir -p "$R"/{bin,dev,proc,newroot,modules}
cp /bin/busybox "$R/bin/busybox"
mods="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk"
for m in $mods; do
  cp "$(find "kroot/lib/modules/$KVER" -name "$m.ko")" "$R/modules/"
done
cat > "$R/init" <<INIT
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev
for m in $mods; do /bin/busybox insmod /modules/\$m.ko; done
i=0; while [ ! -b /dev/vda ] && [ \$i -lt 100 ]; do /bin/busybox sleep 0.1; i=\$((i+1)); done
/bin/busybox mount -t ext4 -o rw /dev/vda /newroot || { echo "initramfs: cannot mount /dev/vda"; /bin/busybox poweroff -f; }
/bin/busybox umount /dev
exec /bin/busybox switch_root /newroot /lib/systemd/systemd
INIT
chmod 755 "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > initrd.cpio.gz
rm -rf "$R"

# -- this run's files in the root, then the disk image ------------------------
mkdir -p "$BASE/root/vmtest"
cp "$DEB" "$BASE/root/vmtest/socks5-proxy.deb"
install -m755 "$HERE/systemd_vm_check.sh" "$BASE/root/vmtest/check.sh"
rm -rf "$BASE/var/lib/socks5-proxy" "$BASE/var/log/socks5-proxy" "$BASE/etc/socks5-proxy" \
  "$BASE/etc/systemd/system/socks5-proxy.service.d"
# A drop-in to try a unit change under the real systemd without a rebuild.
if [ -n "${SYSTEMD_VM_DROPIN:-}" ]; then
  install -D -m644 "$SYSTEMD_VM_DROPIN" "$BASE/etc/systemd/system/socks5-proxy.service.d/test.conf"
fi
cat > "$BASE/etc/systemd/system/vm-check.service" <<'UNIT'
[Unit]
Description=socks5-proxy package check (tests/package/systemd_vm.sh)
After=basic.target dbus.socket
[Service]
Type=oneshot
ExecStart=/root/vmtest/check.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$BASE/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/vm-check.service "$BASE/etc/systemd/system/multi-user.target.wants/vm-check.service"
size=$(( $(du -sm "$BASE" | cut -f1) + 700 ))
rm -f root.ext4
mkfs.ext4 -q -F -L root -d "$BASE" root.ext4 "${size}M"
echo "== root image ${size} MB ready after $(elapsed); booting $KVER under qemu ($ACCEL, -smp $SMP)"

# -- boot ----------------------------------------------------------------------
t_boot=$(date +%s)
rc=0
timeout "$TIMEOUT" qemu-system-x86_64 -accel "$ACCEL" -cpu max -m 1024 -smp "$SMP" \
  -nographic -no-reboot -nic none \
  -kernel "kroot/boot/vmlinuz-$KVER" -initrd initrd.cpio.gz \
  -drive file=root.ext4,format=raw,if=virtio \
  -append "console=ttyS0 root=/dev/vda rw quiet panic=-1 systemd.show_status=error" \
  > console.log 2>&1 &
qemu=$!
trap 'kill $qemu 2>/dev/null' EXIT INT TERM
wait $qemu || rc=$?
trap - EXIT INT TERM
[ $rc -eq 124 ] && echo "qemu timed out after $TIMEOUT s"
echo "== the VM ran $(( $(date +%s) - t_boot )) s (whole run $(elapsed)); console: $WORK/console.log"
# The guest's lines (the first one can follow the firmware's escape codes).
tr -d '\r' < console.log | grep -ao 'VM: .*' | sed 's/^VM: //' > results.txt
cat results.txt
passes=$(grep -c '^PASS' results.txt || true)
fails=$(grep -c '^FAIL' results.txt || true)
if ! grep -qx 'done' results.txt; then
  echo "FAIL: the check did not finish (see $WORK/console.log)"; fails=$((fails + 1))
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ] && [ "$passes" -ge 20 ]
