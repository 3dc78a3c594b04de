#!/usr/bin/env bash
# Builds authapi, starts it on a free loopback port with a fresh database and
# the log mailer, and runs the API document's Python snippets against it.
set -euo pipefail
script=doc-client
cd "$(dirname "$0")/../.."
source tools/scripts/lib.sh

if ! python3 -c 'import requests' 2>/dev/null; then
  say "python3 with the requests package is required; installing it"
  apt_install python3 python3-requests
  python3 -c 'import requests' || die "could not install python3-requests"
fi

start_authapi

if ! BASE_URL="$base" SERVICE_LOG="$work/service.log" python3 tools/scripts/doc_client.py; then
  echo "--- service log" >&2
  cat "$work/service.log" >&2
  exit 1
fi
