#!/usr/bin/env bash
# Prepares this machine for the test suite (run by `npm test` before vitest; idempotent, fast when done):
# the real crontab binary and cron daemon, an unprivileged user for permission cases (root ignores file
# permissions), and for the replica-on-other-file-systems tests (test/_mounts.ts) the exFAT/FAT/NTFS FUSE
# drivers, mkfs tools and a private sshd on 127.0.0.1. As a non-root developer nothing is installed:
# permission cases then run as you, and the mount tests skip (mounting needs root).
set -euo pipefail
TEST_USER=folder-sync-test

if [ "$(id -u)" -ne 0 ]; then
  command -v crontab >/dev/null || { echo "test-setup: crontab is missing; install Debian's 'cron' package" >&2; exit 1; }
  exit 0
fi

missing=()
command -v crontab >/dev/null 2>&1 || missing+=(cron)
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
command -v pgrep >/dev/null 2>&1 || missing+=(procps)
command -v script >/dev/null 2>&1 || missing+=(bsdutils) # `script`: a pseudo-terminal for the progress-line test
# Replicas on other file systems: FUSE drivers (kernels often lack vfat/exfat/ntfs), mkfs tools, sshfs.
command -v losetup >/dev/null 2>&1 || missing+=(mount)
command -v fusermount3 >/dev/null 2>&1 || missing+=(fuse3)
command -v mount.exfat-fuse >/dev/null 2>&1 || missing+=(exfat-fuse)
command -v mkfs.exfat >/dev/null 2>&1 || missing+=(exfatprogs)
command -v fusefat >/dev/null 2>&1 || missing+=(fusefat)
command -v mkfs.vfat >/dev/null 2>&1 || missing+=(dosfstools)
command -v ntfs-3g >/dev/null 2>&1 || missing+=(ntfs-3g)
command -v sshfs >/dev/null 2>&1 || missing+=(sshfs)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v mkfs.xfs >/dev/null 2>&1 || missing+=(xfsprogs)
command -v mkfs.btrfs >/dev/null 2>&1 || missing+=(btrfs-progs)
command -v strace >/dev/null 2>&1 || missing+=(strace) # system calls of a pass (test/walk-build.test.ts)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A real cron daemon, for the end-to-end scheduling test.
if ! pgrep -x cron >/dev/null 2>&1; then
  /usr/sbin/cron || service cron start
fi

# The unprivileged user that runs the permission cases and owns the test crontab.
if ! id "$TEST_USER" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/sh "$TEST_USER"
fi

# A private sshd on 127.0.0.1 for the sshfs replica tests, with its own config, host key and a client key
# for root, all under $SSHD_DIR: the system's sshd and root's ~/.ssh are left alone. test/_mounts.ts uses
# the same folder and port.
SSHD_DIR=/var/lib/folder-sync-test/sshd
SSHD_PORT=22022
if [ ! -f "$SSHD_DIR/sshd_config" ]; then
  mkdir -p "$SSHD_DIR"
  chmod 700 /var/lib/folder-sync-test "$SSHD_DIR"
  rm -f "$SSHD_DIR/host_key" "$SSHD_DIR/host_key.pub" "$SSHD_DIR/client_key" "$SSHD_DIR/client_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C folder-sync-test-host -f "$SSHD_DIR/host_key"
  ssh-keygen -q -t ed25519 -N '' -C folder-sync-test-client -f "$SSHD_DIR/client_key"
  cp "$SSHD_DIR/client_key.pub" "$SSHD_DIR/authorized_keys"
  cat >"$SSHD_DIR/sshd_config.new" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $SSHD_DIR/host_key
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem sftp internal-sftp
EOF
  mv "$SSHD_DIR/sshd_config.new" "$SSHD_DIR/sshd_config"
fi
if ! { [ -f "$SSHD_DIR/sshd.pid" ] && kill -0 "$(cat "$SSHD_DIR/sshd.pid")" 2>/dev/null; }; then
  mkdir -p /run/sshd
  /usr/sbin/sshd -f "$SSHD_DIR/sshd_config"
fi
echo "test-setup: cron running, user $TEST_USER ready, sshd on 127.0.0.1:$SSHD_PORT"
