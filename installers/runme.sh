#!/usr/bin/env bash
# folder-sync quick start (Linux, macOS, WSL): install, build, write demo data, run one mirror pass with a log,
# show the log, and print how to schedule it. Non-interactive, works from any folder, safe to re-run.
# Scheduling happens only with --schedule. Windows: installers\runme.bat.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: installers/runme.sh [--schedule] [--no-install] [--help]

  (no option)    npm ci, build, write demo data into demo/source, mirror it into demo/replica with the log
                 demo/folder-sync.log, show the log, and print the commands that schedule it.
  --schedule     also schedule the demo job with the OS scheduler (every 5 minutes, name "folder-sync-demo").
  --no-install   skip npm ci and the build (use the dist/ that is already there).

Environment: FOLDER_SYNC_DEMO_DIR (default: <repo>/demo), FOLDER_SYNC_DEMO_SEED (default: 1).
EOF
}

schedule=0
install=1
for arg in "$@"; do
  case "$arg" in
    --schedule) schedule=1 ;;
    --no-install) install=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "runme.sh: unknown option \"$arg\"" >&2; usage >&2; exit 2 ;;
  esac
done

# The repository root, from this script's own path: the caller's working folder does not matter.
repo="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd -- "$repo"
demo="${FOLDER_SYNC_DEMO_DIR:-$repo/demo}"
seed="${FOLDER_SYNC_DEMO_SEED:-1}"
source_dir="$demo/source"
replica="$demo/replica"
log="$demo/folder-sync.log"
job=folder-sync-demo

step() { printf '\n==> %s\n' "$*"; }
# Print a command line the way a shell would read it back (paths with spaces stay one word).
show() {
  local line
  line="$(printf '%q ' "$@")"
  printf '  %s\n' "${line% }"
}

command -v node >/dev/null 2>&1 || { echo "runme.sh: Node.js 20 or newer is needed (https://nodejs.org, or nvm)" >&2; exit 1; }
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "runme.sh: Node.js 20 or newer is needed; this is $(node --version)" >&2
  exit 1
fi

if [ "$install" -eq 1 ]; then
  command -v npm >/dev/null 2>&1 || { echo "runme.sh: npm is missing (it comes with Node.js)" >&2; exit 1; }
  step "Installing dependencies: npm ci"
  npm ci --no-audit --no-fund </dev/null
  step "Building: npm run build"
  npm run build </dev/null
fi
cli="$repo/dist/cli.js"
[ -f "$cli" ] || { echo "runme.sh: $cli is missing; run without --no-install to build it" >&2; exit 1; }
fs() { node "$cli" "$@" </dev/null; }

step "Writing demo data (seed $seed)"
show node "$cli" demo "$source_dir" --seed "$seed"
fs demo "$source_dir" --seed "$seed"

# The log is appended to; remember where this run's lines start.
start_line=1
[ -f "$log" ] && start_line=$(($(wc -l <"$log") + 1))

step "One mirror pass (console quiet; every operation goes to the log)"
show node "$cli" sync-once "$source_dir" "$replica" --log "$log" --quiet
fs sync-once "$source_dir" "$replica" --log "$log" --quiet

step "The log of this pass: $log"
pass_lines="$(tail -n "+$start_line" "$log")"
total=$(printf '%s\n' "$pass_lines" | wc -l)
if [ "$total" -le 40 ]; then
  printf '%s\n' "$pass_lines"
else
  printf '%s\n' "$pass_lines" | sed -n '1,25p' # sed reads it all: no SIGPIPE under pipefail
  printf '  ... %d more lines (all of them in %s) ...\n' "$((total - 30))" "$log"
  printf '%s\n' "$pass_lines" | tail -n 5
fi

step "Files over 64 KiB in the replica (copied to a temporary name, then renamed into place)"
large=0
while IFS= read -r -d '' f; do
  large=$((large + 1))
  if [ "$large" -le 5 ]; then printf '  %10d bytes  %s\n' "$(wc -c <"$f")" "${f#"$replica"/}"; fi
done < <(find "$replica" -type f -size +128 -print0) # +128 blocks of 512 bytes = over 64 KiB
printf '  %d files over 64 KiB in all\n' "$large"
[ "$large" -gt 0 ] || { echo "runme.sh: the demo should have copied files over 64 KiB" >&2; exit 1; }

step "A second pass: nothing changed, so it logs no operations"
start_line=$(($(wc -l <"$log") + 1))
fs sync-once "$source_dir" "$replica" --log "$log" --quiet
tail -n "+$start_line" "$log"

step "Run it on a schedule"
echo "Every 5 minutes through cron (Linux, macOS) or Task Scheduler (Windows); paths are stored absolute:"
show node "$cli" schedule "$source_dir" "$replica" 5 minutes "$log" --name "$job"
echo "See the jobs, their last pass and the next run:"
show node "$cli" list
echo "Remove the job:"
show node "$cli" unschedule "$job"
echo "No cron daemon (containers, WSL)? Run the passes in the foreground instead (Ctrl-C stops):"
show node "$cli" run "$source_dir" "$replica" 5 minutes "$log"
echo "After 'npm link' (or 'npm install -g .') in $repo, 'node $cli' is simply 'folder-sync'."

if [ "$schedule" -eq 1 ]; then
  step "Scheduling the demo job (--schedule)"
  fs schedule "$source_dir" "$replica" 5 minutes "$log" --name "$job"
else
  echo
  echo "Nothing was scheduled. Run installers/runme.sh --schedule to schedule the demo job."
fi
