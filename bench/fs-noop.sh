#!/usr/bin/env bash
# The no-op pass of one tree on replicas on ext4 (the local temp folder), exFAT (exfat-fuse) and FAT32 (fusefat):
# the cost of mirroring onto a USB stick once nothing changed (issue 12: within 1.5x of ext4). Reports, asserts
# nothing. Needs root (it mounts images) and the drivers scripts/test-setup.sh installs.
#   bash bench/fs-noop.sh [files (default 2000)] [runs (default 5)] [pause in s between runs (default 0)]
# FUSE keeps attributes cached for about a second: with no pause, back-to-back runs often hit that cache; a
# pause of 2 s measures every run with a cold attribute cache (what a scheduled pass sees).
set -euo pipefail
FILES=${1:-2000}
RUNS=${2:-5}
PAUSE=${3:-0}
repo=$(cd "$(dirname "$0")/.." && pwd)
cli="$repo/dist/cli.js"
[ "$(id -u)" -eq 0 ] || { echo "fs-noop: mounting needs root" >&2; exit 2; }
[ -f "$cli" ] || { echo "fs-noop: build first (npm run build)" >&2; exit 2; }

work=$(mktemp -d /tmp/fs-noop-XXXXXX)
loop=''
cleanup() {
  for m in "$work/exfat" "$work/vfat"; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  [ -n "$loop" ] && losetup -d "$loop"
  rm -rf "$work"
}
trap cleanup EXIT

# The tree: FILES small files in folders of 50, whole-second mtimes with a millisecond part.
node -e '
const fs = require("fs"), path = require("path");
const [root, n] = [process.argv[1], Number(process.argv[2])];
for (let i = 0; i < n; i++) {
  const dir = path.join(root, `d${String(Math.floor(i / 50)).padStart(3, "0")}`);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `IMG_${String(i).padStart(5, "0")}.JPG`);
  fs.writeFileSync(file, Buffer.alloc(1 + (i * 37) % 4096, i & 0xff));
  const t = 1_700_000_000 + i * 7 + 0.123;
  fs.utimesSync(file, t, t);
}' "$work/src" "$FILES"

mkdir -p "$work/exfat" "$work/vfat" "$work/ext4"
truncate -s 256M "$work/exfat.img" "$work/vfat.img"
mkfs.exfat "$work/exfat.img" >/dev/null
mkfs.vfat -F 32 "$work/vfat.img" >/dev/null
loop=$(losetup -f --show "$work/exfat.img")
mount.exfat-fuse "$loop" "$work/exfat" 2>/dev/null
TZ=UTC fusefat -o rw+ "$work/vfat.img" "$work/vfat" >/dev/null 2>&1

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# The floor each driver sets: GNU find lstat-ing every entry of the replica (what any mirror tool must do).
printf '%-6s %8s %10s %10s %s\n' fs files 'median ms' 'find ms' 'runs (ms)'
for fs in ext4 exfat vfat; do
  replica="$work/$fs/replica"
  node "$cli" sync-once "$work/src" "$replica" --quiet
  times=()
  for _ in $(seq "$RUNS"); do
    sleep "$PAUSE"
    start=$(now_ms)
    out=$(node "$cli" sync-once "$work/src" "$replica")
    times+=($(( $(now_ms) - start )))
    if grep -qE '^(created|updated|removed) ' <<<"$out"; then echo "fs-noop: the no-op pass on $fs changed something:" >&2; grep -E '^(created|updated|removed) ' <<<"$out" | head -3 >&2; fi
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  finds=()
  for _ in $(seq "$RUNS"); do
    sleep "$PAUSE"
    start=$(now_ms)
    find "$replica" -printf '%s %T@\n' >/dev/null
    finds+=($(( $(now_ms) - start )))
  done
  find_median=$(printf '%s\n' "${finds[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  printf '%-6s %8s %10s %10s %s\n' "$fs" "$FILES" "$median" "$find_median" "${times[*]}"
done
