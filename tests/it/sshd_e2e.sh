# Holder of one private mount namespace for tests/it/sshd_e2e.rs; run as
#   unshare --mount --propagation private -- bash sshd_e2e.sh
# with E2E_SCRATCH (a scratch directory), E2E_PORT (a free port on 127.0.0.1) and E2E_SSHD
# (the absolute path of sshd) in the environment.
#
# It makes this namespace look like a normal Debian host while touching nothing outside
# E2E_SCRATCH: a copy of /etc over /etc, fresh /run, /dev, /var/log and /var/backups. Then
# it starts sshd on 127.0.0.1, prints "ready", and waits for its standard input to close;
# the test runs its commands in here with `nsenter --target <this pid> --mount`. When this
# script exits the namespace, and every mount in it, is gone with it.
set -euo pipefail

S=${E2E_SCRATCH:?}
PORT=${E2E_PORT:?}
SSHD=${E2E_SSHD:?}

cleanup() {
    if [ -n "${sshd_pid:-}" ]; then
        kill "$sshd_pid" 2>/dev/null || true
        wait "$sshd_pid" 2>/dev/null || true
    fi
    # A connection libwrap refused lives on for 5 s (tcp_wrappers' clean_exit() sleeps
    # before exiting): end those too. Only sshd processes in this namespace, which this
    # script started, are touched.
    local p comm
    for p in /proc/[0-9]*; do
        [ "$p/ns/mnt" -ef /proc/$$/ns/mnt ] || continue
        read -r comm <"$p/comm" 2>/dev/null || continue
        [ "$comm" = sshd ] && kill "${p#/proc/}" 2>/dev/null || true
    done
}
trap cleanup EXIT

# The system under test's configuration: a copy, so hosts.allow and hosts.deny can be
# broken and repaired freely. The whole directory is bind-mounted (not single files) so
# that wrapfix's write-and-rename works as on a real /etc.
cp -a /etc "$S/etc"
# UsePAM no makes sshd refuse accounts whose password is locked with "!": unlock root's in
# the copy (key login only; PasswordAuthentication is off).
sed -i 's/^root:![^:]*:/root:*:/' "$S/etc/shadow"
mount --bind "$S/etc" /etc

# sshd's privilege-separation directory, without creating /run/sshd on the real disk.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 /run/sshd

# A /dev whose /dev/log is the test's syslog listener: libwrap reports refusals with
# syslog(3), and glibc sends that to /dev/log (the machine may have none).
mount -t tmpfs -o mode=755 tmpfs /dev
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<<"$node"
    mknod -m 666 "/dev/$name" c "$major" "$minor"
done
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
ln -s "$S/devlog" /dev/log

# The logs the listener writes, and an empty backup directory for wrapfix's change sets.
mount --bind "$S/log" /var/log
mount -t tmpfs -o mode=755 tmpfs /var/backups

ssh-keygen -q -N '' -t ed25519 -C wrapfix-e2e-host -f "$S/host_key"
ssh-keygen -q -N '' -t ed25519 -C wrapfix-e2e-root -f "$S/client_key"
cp "$S/client_key.pub" "$S/authorized_keys"

cat >"$S/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $S/host_key
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $S/sshd.pid
LoginGraceTime 15
PrintMotd no
SyslogFacility AUTH
LogLevel VERBOSE
EOF

# -D: stay in the foreground as our child. No -e: sshd logs to syslog as a real one does,
# which also makes libwrap's own line carry sshd's facility and pid.
"$SSHD" -D -f "$S/sshd_config" 2>"$S/sshd.stderr" </dev/null &
sshd_pid=$!

echo ready
# Until the test closes our standard input (or dies).
read -r _ || true
