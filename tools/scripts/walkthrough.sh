#!/usr/bin/env bash
# Runs the README's walk-through exactly as written: every ```sh block that
# follows a "<!-- walk-through -->" line is pasted into bash, in a fresh copy
# of the repository, twice (the second run finds the service already running
# and must still succeed). The service the walk-through starts is stopped at
# the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

blocks=$(awk '
  /^<!-- walk-through -->$/ { armed = 1; next }
  armed && /^```sh$/        { inside = 1; armed = 0; next }
  inside && /^```$/         { inside = 0; print "\n"; next }
  inside                    { print }
' README.md)
if [ -z "${blocks//[[:space:]]/}" ]; then
  echo "walkthrough: README.md has no block after a <!-- walk-through --> marker" >&2
  exit 1
fi

# The walk-through of two-step login computes codes with oathtool, as its
# reader would.
if ! command -v oathtool >/dev/null; then
  echo "walkthrough: installing oathtool with apt"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq oathtool >/dev/null
fi

# The walk-through talks to localhost:8080; something else answering there
# would make the run meaningless.
if curl -fs localhost:8080/readyz >/dev/null 2>&1; then
  echo "walkthrough: something already answers on localhost:8080; stop it first" >&2
  exit 1
fi

work=$(mktemp -d)
stop_service() {
  # Stop only the service started from the copy, whatever else runs here.
  for pid in $(pgrep -x authapi || true); do
    if [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$work" ]; then
      kill "$pid" 2>/dev/null || true
    fi
  done
}
cleanup() {
  stop_service
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT

git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work"

for run in 1 2; do
  echo "-- walk-through, run $run"
  if ! (cd "$work" && bash -c "$blocks"); then
    echo "walkthrough: run $run failed; the service log follows" >&2
    tail -n 40 "$work/authapi.log" >&2 || true
    exit 1
  fi
done
