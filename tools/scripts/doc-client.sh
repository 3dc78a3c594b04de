#!/usr/bin/env bash
# Builds authapi, starts it on a free loopback port with a fresh database and
# the log mailer, and runs the API document's Python snippets against it.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! python3 -c 'import requests' 2>/dev/null; then
  echo "doc-client: python3 with the requests package is required; installing it"
  if command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3 python3-requests >/dev/null
  fi
  python3 -c 'import requests' || { echo "doc-client: could not install python3-requests" >&2; exit 1; }
fi

work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/authapi" .
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AUTH_ADDR="127.0.0.1:$port" AUTH_PUBLIC_URL="http://127.0.0.1:$port" \
  AUTH_DATABASE_URL="$work/auth.db" AUTH_SIGNING_KEY_FILE="$work/key.pem" AUTH_SECRET_KEY_FILE="$work/secret.key" \
  "$work/authapi" 2> "$work/service.log" &
pid=$!

for _ in $(seq 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$work/service.log" >&2; exit 1; fi
  sleep 0.1
done

if ! BASE_URL="http://127.0.0.1:$port" SERVICE_LOG="$work/service.log" python3 tools/scripts/doc_client.py; then
  echo "--- service log" >&2
  cat "$work/service.log" >&2
  exit 1
fi
