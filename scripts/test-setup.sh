#!/usr/bin/env bash
# Prepares this machine for the test suite (run by `npm test` before vitest; idempotent, fast when done):
# the real crontab binary and cron daemon, and an unprivileged user for permission cases (root ignores
# file permissions). As a non-root developer nothing is installed: permission cases then run as you.
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
echo "test-setup: cron running, user $TEST_USER ready"
