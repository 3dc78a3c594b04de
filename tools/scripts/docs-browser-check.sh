#!/usr/bin/env bash
# Checks in a real Chromium that the Swagger UI served at /docs works: builds
# authapi, starts it on a free loopback port with a fresh database and the log
# mailer, and runs tools/scripts/docs-browser-check.mjs against it. Installs what is
# missing first (Debian's chromium, Node.js, the npm packages in tools/scripts/), so
# it runs on a fresh machine. Exits non-zero on any failure.
#
# Environment: CHROMIUM (default /usr/bin/chromium), SCREENSHOT (default
# /tmp/docs.png).
set -euo pipefail
script=docs-browser-check
cd "$(dirname "$0")/../.."
source tools/scripts/lib.sh

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export SCREENSHOT="${SCREENSHOT:-/tmp/docs.png}"

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
  # playwright-core downloads no browser; the check drives $CHROMIUM.
  (cd tools/scripts && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

say "install step took $((SECONDS - install_start))s"
check_start=$SECONDS

announce_stop=1
say "building authapi"
build_authapi
choose_port
say "starting authapi on $base"
start_authapi

if ! BASE_URL="$base" SERVICE_LOG="$work/service.log" node tools/scripts/docs-browser-check.mjs; then
  echo "--- service log" >&2
  cat "$work/service.log" >&2
  if ! kill -0 "$pid" 2>/dev/null; then
    say "note: the service (pid $pid) stopped during the check, so it was killed from outside"
    pid=""
  fi
  say "check step took $((SECONDS - check_start))s"
  exit 1
fi
say "check step took $((SECONDS - check_start))s"
