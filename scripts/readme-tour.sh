#!/usr/bin/env bash
# Runs the README's "Two commands" and "Five-minute tour" as written: the fenced ```sh blocks from the
# "## Two commands" heading to the first heading after "## Five-minute tour" are extracted (the README is the only
# copy of the commands) and run in order, in a fresh temporary directory, under `set -euo pipefail`.
# Run it from a built checkout (after `npm ci`): `npm ci` and `npm test`, which CI has just run, are left out;
# `dist/` is linked into the temporary directory so `node dist/src/cli/main.js` works there as in the checkout.
# A `serve` command is started in the background on a free port (`--port 0` appended: a later --port wins, and the
# README's port may be taken on the machine that runs this), asked GET /healthz once it says it is serving, and stopped.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$repo/dist/src/cli/main.js" ] || { echo "readme-tour: build first (npm ci)" >&2; exit 1; }

commands=$(awk '
  /^## Two commands/ { on = 1; next }
  on && /^## Five-minute tour/ { tour = 1; next }
  on && tour && /^#/ && !fence { exit }
  on && /^```sh/ { fence = 1; next }
  on && fence && /^```/ { fence = 0; next }
  on && fence { print }
' "$repo/README.md")
[ -n "$commands" ] || { echo "readme-tour: no sh blocks found in the README sections" >&2; exit 1; }

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
ln -s "$repo/dist" "$work/dist"
cd "$work"

serve() {
  local line=$1 log="$work/serve.out" url= command
  command=$(sed -E 's/[[:space:]]+#.*$//' <<<"$line")   # the README's trailing comment would swallow --port
  bash -euo pipefail -c "exec $command --port 0" >"$log" 2>"$work/serve.err" &
  server=$!
  for _ in $(seq 1 120); do
    url=$(sed -n 's/^graftrec serving on //p' "$log")
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.err" >&2; echo "readme-tour: serve exited" >&2; exit 1; }
    sleep 0.5
  done
  [ -n "$url" ] || { echo "readme-tour: serve did not start in 60 s" >&2; exit 1; }
  node -e "fetch(process.argv[1] + '/healthz').then(async (r) => { const b = await r.text(); console.log(b); if (!r.ok) process.exit(1); })" "$url"
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
}

started=$(date +%s)
pending=
while IFS= read -r raw; do
  line="$pending$raw"
  # A command continued on the next line.
  if [[ "$line" == *\\ ]]; then pending="${line%\\} "; continue; fi
  pending=
  [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
  line=${line#npm ci && }
  [ "$line" = "npm test" ] && continue
  echo "\$ $line"
  step=$(date +%s)
  if [[ "$line" =~ ^node\ dist/src/cli/main\.js\ serve\  ]]; then serve "$line"; else bash -euo pipefail -c "$line"; fi
  echo "  ($(( $(date +%s) - step )) s)"
done <<<"$commands"
echo "readme-tour: every command ran ($(( $(date +%s) - started )) s)"
