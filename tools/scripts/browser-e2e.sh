#!/usr/bin/env bash
# End-to-end test in a real Chromium of what a browser front end on another
# origin does with authapi: builds authapi, starts it on a free loopback port
# with a fresh database, the log mailer, and CORS and passkeys for the test
# front end's origin, and runs tools/scripts/browser-e2e.mjs, which serves the
# front end (tools/scripts/browser-e2e/) and drives it. Installs what is
# missing first (Debian's chromium, Node.js, the npm packages in
# tools/scripts/), so it runs on a fresh machine. Exits non-zero on any
# failure.
#
# Environment: CHROMIUM (default /usr/bin/chromium).
set -euo pipefail
script=browser-e2e
cd "$(dirname "$0")/../.."
source tools/scripts/lib.sh

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

install_start=$SECONDS

if [ ! -x "$CHROMIUM" ]; then
  say "installing chromium with apt (not found at $CHROMIUM)"
  apt_install chromium
  [ -x "$CHROMIUM" ] || die "chromium is still not at $CHROMIUM"
fi

# playwright-core needs Node.js 20 or later.
need_node "20 or later is needed"
need_curl

if [ ! -d tools/scripts/node_modules/playwright-core ]; then
  say "installing npm packages (npm ci in tools/scripts/)"
  # playwright-core downloads no browser; the test drives $CHROMIUM.
  (cd tools/scripts && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

say "install step took $((SECONDS - install_start))s"
check_start=$SECONDS

announce_stop=1
say "building authapi"
build_authapi
choose_port
frontend_port=$(free_port)
while [ "$frontend_port" = "$port" ]; do frontend_port=$(free_port); done
say "starting authapi on $base, for a front end on http://localhost:$frontend_port"
# Passkeys need a domain for the RP ID, and browsers allow them on
# http://localhost but on no other plain-HTTP origin: the front end is there.
start_authapi AUTH_MAILER=log AUTH_CORS_ORIGINS="http://localhost:$frontend_port" \
  AUTH_WEBAUTHN_RP_ID=localhost AUTH_WEBAUTHN_ORIGINS="http://localhost:$frontend_port"

if ! BASE_URL="$base" FRONTEND_PORT="$frontend_port" SERVICE_LOG="$work/service.log" \
  node tools/scripts/browser-e2e.mjs; then
  echo "--- service log" >&2
  cat "$work/service.log" >&2
  if ! kill -0 "$pid" 2>/dev/null; then
    say "note: the service (pid $pid) stopped during the test, so it was killed from outside"
    pid=""
  fi
  say "check step took $((SECONDS - check_start))s"
  exit 1
fi
say "check step took $((SECONDS - check_start))s"
