#!/bin/bash
# The guest side of tests/package/systemd_vm.sh: runs as a oneshot unit under
# Debian 12's systemd (PID 1), does what an operator who read the README and
# the man pages would do with the package, and prints "VM: PASS ..." /
# "VM: FAIL ..." lines and "VM: done" on the serial console, then powers off.
set -u
cd /root/vmtest
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive
UNIT=socks5-proxy
say() { echo "VM: $*"; }
pass() { say "PASS $*"; }
fail() { say "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
now() { date +%s%N; }
took() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); echo "$((ms / 1000)).$((ms % 1000 / 100)) s"; }
# Polls a command for up to $1 seconds (software emulation: every process
# start costs a good part of a second, so the bound is time, not tries).
wait_for() { local end=$((SECONDS + $1)); shift; until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done; }
state() { systemctl show -p ActiveState --value $UNIT; }
is_active() { [ "$(state)" = active ]; }
journal() { journalctl -u $UNIT -q -o cat --no-pager; }
journal_lines() { journal | wc -l; }
# The unit's journal lines after line $1.
journal_since() { journal | tail -n +$(($1 + 1)); }
main_pid() { systemctl show -p MainPID --value $UNIT; }
show() { systemctl show -p "$1" --value $UNIT; }

say "booted: kernel $(uname -r), $(systemctl --version | head -1), PID 1 is $(cat /proc/1/comm)"
say "up $(cut -d' ' -f1 /proc/uptime) s when the check starts; sctp module loaded: $(grep -qw ^sctp /proc/modules && echo yes || echo no)"
t_all=$(now)

# -- install: apt-get, as the README says; the postinst starts the unit --------
t=$(now)
apt-get install -y --no-install-recommends ./socks5-proxy.deb > install.log 2>&1
check "apt-get install ./socks5-proxy.deb ($(took "$t"))" [ $? -eq 0 ]
grep -q initial-admin-password install.log && pass "the postinst says where the admin password is" \
  || fail "the postinst says where the admin password is"
check "unit enabled by the postinst" [ "$(systemctl is-enabled $UNIT)" = enabled ]
wait_for 30 is_active
check "started by the postinst: active (Type=notify, READY=1)" is_active
say "status: $(show StatusText) | type $(show Type), restarts $(show NRestarts)"

# -- stop, then start by hand: READY only after the listeners accept ----------
systemctl stop $UNIT
check "systemctl stop: inactive" [ "$(state)" = inactive ]
t=$(now)
systemctl start $UNIT; rc=$?
check "systemctl start returns 0 ($(took "$t")) and the unit is active" [ $rc -eq 0 -a "$(state)" = active ]
# Type=notify: systemctl start came back only after READY=1, so the SOCKS
# port accepts at once.
check "SOCKS port accepts right after systemctl start" \
  timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/1080' 2>/dev/null
pid=$(main_pid)
check "runs as socks5-proxy" [ "$(ps -o user= -p "$pid")" = socks5-proxy ]
status=/proc/$pid/status
check "sandbox: NoNewPrivs and a seccomp filter" \
  bash -c "grep -qx \$'NoNewPrivs:\t1' $status && grep -qx \$'Seccomp:\t2' $status"
check "sandbox: empty effective and bounding capability sets" \
  bash -c "grep -qx \$'CapEff:\t0000000000000000' $status && grep -qx \$'CapBnd:\t0000000000000000' $status"
journal | grep -E "listening|ready:" | tail -6 | sed 's/^/VM: journal: /'
say "sctp module loaded now: $(grep -qw ^sctp /proc/modules && echo yes || echo no)"
check "journal lines carry priorities, not raw <N> prefixes" bash -c "! journalctl -u $UNIT -q -o cat | grep -q '^<[0-7]>'"

# -- the admin password, proxyctl, a SOCKS user, a connection -----------------
pwfile=/var/lib/socks5-proxy/initial-admin-password
check "initial admin password file, root 0600" [ "$(stat -c '%U %a' $pwfile 2>/dev/null)" = "root 600" ]
export PROXYCTL_PASSWORD; PROXYCTL_PASSWORD=$(cat $pwfile)
out=$(PROXYCTL_NEW_PASSWORD=al1ce-pw timeout 30 proxyctl users add alice 2>&1); rc=$?
say "proxyctl users add alice (defaults): rc=$rc $out"
if [ $rc -ne 0 ]; then
  fail "proxyctl users add with its default transport"
  transport=kernel; journal | grep -q "SCTP over UDP" && transport=udp
  out=$(PROXYCTL_NEW_PASSWORD=al1ce-pw timeout 30 proxyctl --transport $transport users add alice 2>&1); rc=$?
  say "proxyctl --transport $transport users add alice: rc=$rc $out"
fi
check "proxyctl users add alice with the initial admin password" [ $rc -eq 0 ]
check "alice in the users file (the service may write its state dir)" \
  grep -q '^alice:' /var/lib/socks5-proxy/users.txt

mkdir -p www && echo "hello through socks5-proxy" > www/hello.txt
python3 -m http.server 8080 --bind 127.0.0.1 --directory www > http.log 2>&1 &
wait_for 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080' 2>/dev/null
fetch() {  # user password: the test page through the proxy
  curl -sS --max-time 20 --socks5-hostname "$1:$2@127.0.0.1:1080" http://127.0.0.1:8080/hello.txt
}
check "curl through SOCKS5 as alice" [ "$(fetch alice al1ce-pw)" = "hello through socks5-proxy" ]
check "a wrong password is refused" bash -c "! curl -s --max-time 20 --socks5-hostname alice:wrong@127.0.0.1:1080 http://127.0.0.1:8080/hello.txt"
log=/var/log/socks5-proxy/access.log
wait_for 10 grep -q alice $log
check "access.log has alice's connection" grep -q alice $log
say "access.log: $(tail -1 $log)"

# -- Prometheus: the endpoint, promtool, a real Prometheus server -------------
value() { awk -v s="$1" '$1 == s { print $2 }' metrics.txt | cut -d. -f1; }
# The endpoint serves the last published snapshot: poll until it has both
# connections (the SOCKS port probe above is one more).
scrape() { curl -s --max-time 10 http://127.0.0.1:9464/metrics > metrics.txt && [ "$(value socks5_proxy_connections_accepted_total)" -ge 2 ] 2>/dev/null; }
wait_for 15 scrape
check "GET http://127.0.0.1:9464/metrics" [ -s metrics.txt ]
check "promtool check metrics" bash -c "[ -s metrics.txt ] && promtool check metrics < metrics.txt > promtool.log 2>&1 || { sed 's/^/VM: promtool: /' promtool.log; false; }"
grep -E '^socks5_proxy_(connections_accepted_total|replies_total\{.*succeeded|auth_failures_total|build_info)' metrics.txt | sed 's/^/VM: metrics: /'
accepted=$(value socks5_proxy_connections_accepted_total)
check "connections_accepted_total >= 2 after two connections" [ "$accepted" -ge 2 ] 2>/dev/null
check "auth_failures_total >= 1 after the wrong password" [ "$(value socks5_proxy_auth_failures_total)" -ge 1 ] 2>/dev/null
# The process series read /proc (ProtectProc=invisible hides other
# processes only) and show the unit's LimitNOFILE.
grep -E '^process_(max_fds|open_fds|start_time_seconds) ' metrics.txt | sed 's/^/VM: metrics: /'
check "process_max_fds is the unit's LimitNOFILE=65536" [ "$(value process_max_fds)" = 65536 ]
started=$(value process_start_time_seconds)
check "process_start_time_seconds is within the last 10 minutes" \
  [ $(( $(date +%s) - ${started:-0} )) -lt 600 -a $(( $(date +%s) - ${started:-0} )) -ge 0 ]
cat > prometheus.yml <<'YML'
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: socks5-proxy
    static_configs:
      - targets: ['127.0.0.1:9464']
YML
t=$(now)
prometheus --config.file=prometheus.yml --storage.tsdb.path=/root/vmtest/tsdb \
  --web.listen-address=127.0.0.1:9095 > prometheus.log 2>&1 &
prom=$!
query() { curl -s --max-time 5 --data-urlencode "query=$1" http://127.0.0.1:9095/api/v1/query; }
scraped() { query 'up{job="socks5-proxy"}' | grep -q '"value":\[[0-9.]*,"1"\]'; }
gone_or_scraped() { ! kill -0 $prom 2>/dev/null || scraped; }
wait_for 90 gone_or_scraped
check "a real Prometheus scrapes it: up == 1 ($(took "$t"))" scraped
scraped || tail -5 prometheus.log | sed 's/^/VM: prometheus: /'
fetch alice al1ce-pw > /dev/null
want=$((${accepted:-0} + 1))
counted() {
  local v; v=$(query socks5_proxy_connections_accepted_total | sed -n 's/.*"value":\[[0-9.]*,"\([0-9]*\)[."].*/\1/p')
  [ "${v:-0}" -ge $want ]
}
wait_for 30 counted
check "Prometheus sees connections_accepted_total reach $want" counted
say "prometheus: $(query 'sum by (direction) (socks5_proxy_relayed_bytes_total)' | head -c 400)"
kill $prom; wait $prom 2>/dev/null

# -- reload: a user added with --hash-user, then systemctl reload --------------
pid=$(main_pid); n=$(journal_lines)
printf 'b0b-pw\n' | socks5-proxyd --hash-user bob --roles socks >> /var/lib/socks5-proxy/users.txt
t=$(now)
systemctl reload $UNIT; rc=$?
check "systemctl reload returns 0 ($(took "$t"))" [ $rc -eq 0 ]
wait_for 10 is_active
check "active after the reload, same main PID, no restart" [ "$(state)" = active -a "$(main_pid)" = "$pid" -a "$(show NRestarts)" = 0 ]
reloaded() { journal_since "$n" | grep -q 'reloaded /etc/socks5-proxy/proxy.ini'; }
wait_for 10 reloaded
journal_since "$n" | sed 's/^/VM: journal: /'
check "the journal shows the reload" reloaded
check "bob (added by --hash-user and a reload) connects" [ "$(fetch bob b0b-pw)" = "hello through socks5-proxy" ]

# A broken config: `systemctl reload` fails (ExecReload= runs --check
# first), the daemon keeps running on the old one, the journal says where.
cp /etc/socks5-proxy/proxy.ini proxy.ini.good
echo "no_such_key = 1" >> /etc/socks5-proxy/proxy.ini
n=$(journal_lines); pid=$(main_pid)
systemctl reload $UNIT 2> reload.err; rc=$?
sed 's/^/VM: systemctl: /' reload.err
wait_for 10 is_active
journal_since "$n" | sed 's/^/VM: journal: /'
check "a broken config: systemctl reload fails (rc=$rc)" [ $rc -ne 0 ]
check "and the unit stays active on the old config, same main PID" [ "$(state)" = active -a "$(main_pid)" = "$pid" ]
check "the journal has the error with file:line, at priority err" \
  bash -c "journalctl -u $UNIT -q -o cat -p err | grep -q 'proxy.ini:[0-9]*: key .no_such_key.'"
check "and still serving" [ "$(fetch alice al1ce-pw)" = "hello through socks5-proxy" ]
cp proxy.ini.good /etc/socks5-proxy/proxy.ini
systemctl reload $UNIT; wait_for 10 is_active

# -- logrotate ------------------------------------------------------------------
lines=$(wc -l < $log)
t=$(now)
logrotate -f /etc/logrotate.d/socks5-proxy > logrotate.log 2>&1; rc=$?
sed 's/^/VM: logrotate: /' logrotate.log
check "logrotate -f /etc/logrotate.d/socks5-proxy ($(took "$t"))" [ $rc -eq 0 ]
check "access.log.1 holds the old lines" [ "$(wc -l < $log.1 2>/dev/null)" = "$lines" ]
check "new access.log created socks5-proxy 640" [ "$(stat -c '%U %a' $log 2>/dev/null)" = "socks5-proxy 640" ]
fetch alice al1ce-pw > /dev/null
wait_for 10 grep -q alice $log
check "the next connection is logged in the new access.log" grep -q alice $log
check "and not in the rotated one" [ "$(wc -l < $log.1)" = "$lines" ]
journal | grep "reopened" | tail -2 | sed 's/^/VM: journal: /'

# -- Restart=on-failure ---------------------------------------------------------
pid=$(main_pid)
systemctl kill --kill-whom=main --signal=SIGKILL $UNIT
wait_for 20 bash -c "[ \"\$(systemctl show -p NRestarts --value $UNIT)\" = 1 ] && systemctl is-active -q $UNIT"
check "killed with SIGKILL: restarted (Restart=on-failure)" [ "$(show NRestarts)" = 1 -a "$(state)" = active -a "$(main_pid)" != "$pid" ]
check "serves after the restart" [ "$(fetch alice al1ce-pw)" = "hello through socks5-proxy" ]

# -- systemd-analyze security, then stop -------------------------------------------
systemd-analyze security --no-pager $UNIT > security.txt 2>&1
grep -vE '^ *✓' security.txt | sed 's/^/VM: security: /'
check "systemd-analyze security on the running unit" grep -q "Overall exposure level" security.txt

n=$(journal_lines)
t=$(now)
systemctl stop $UNIT
check "systemctl stop ($(took "$t")): inactive, not failed, exit status 0" \
  [ "$(state)" = inactive -a "$(show Result)" = success -a "$(show ExecMainStatus)" = 0 ]
check "the journal shows the shutdown" bash -c "journalctl -u $UNIT -q -o cat | tail -n +$((n + 1)) | grep -q 'shutting down'"
bad=$(journalctl -u $UNIT -q -o cat -p warning --no-pager)
[ -n "$bad" ] && echo "$bad" | sed 's/^/VM: journal warning+: /'
# Expected: the broken config's error and the SIGKILL.
expected="no_such_key|status=1/FAILURE|Reload failed|status=9/KILL|Failed with result 'signal'"
check "no other warning or error in the unit's journal" \
  bash -c "! journalctl -u $UNIT -q -o cat -p warning --no-pager | grep -vE \"$expected\" | grep -q ."

say "the unit's whole journal:"
journalctl -u $UNIT -q -o short-monotonic --no-pager | sed 's/^/VM: | /'

# -- upgrade (a reinstall goes through the same postinst path), then purge -----
systemctl start $UNIT; pid=$(main_pid)
users_before=$(md5sum < /var/lib/socks5-proxy/users.txt)
rm -f $pwfile
t=$(now)
apt-get install -y --reinstall ./socks5-proxy.deb > reinstall.log 2>&1
check "apt-get install --reinstall ($(took "$t")): restarted (new main PID), active" \
  [ $? -eq 0 -a "$(state)" = active -a "$(main_pid)" != "$pid" ]
check "the users file is kept, no new admin password" \
  [ "$(md5sum < /var/lib/socks5-proxy/users.txt)" = "$users_before" -a ! -e $pwfile ]
check "alice still connects" [ "$(fetch alice al1ce-pw)" = "hello through socks5-proxy" ]
t=$(now)
apt-get purge -y socks5-proxy > purge.log 2>&1
check "apt-get purge ($(took "$t")): the running unit stopped and gone" \
  [ $? -eq 0 -a "$(systemctl show -p LoadState --value $UNIT)" = not-found ]
check "no socks5-proxyd process left" bash -c "! pgrep -x socks5-proxyd"
check "state, logs and config removed" \
  [ ! -e /var/lib/socks5-proxy -a ! -e /var/log/socks5-proxy -a ! -e /etc/socks5-proxy ]
say "checks took $(took "$t_all")"
say "done"
sync
systemctl poweroff --no-block
