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
cd "$(dirname "$0")/../.."

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export SCREENSHOT="${SCREENSHOT:-/tmp/docs.png}"

say() { echo "docs-browser-check: $*"; }
die() { echo "docs-browser-check: FAIL: $*" >&2; exit 1; }

# as_root runs a command as root, through sudo when not root already.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* yourself"
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_start=$SECONDS

if [ ! -x "$CHROMIUM" ]; then
  say "installing chromium with apt (not found at $CHROMIUM)"
  apt_install chromium
  [ -x "$CHROMIUM" ] || die "chromium is still not at $CHROMIUM"
fi

# playwright-core needs Node.js 20 or later.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing nodejs and npm with apt"
  apt_install nodejs npm
fi
[ "$(node_major)" -ge 20 ] || die "Node.js $(node --version 2>/dev/null || echo none) is too old; 20 or later is needed"

if ! command -v curl >/dev/null; then
  say "installing curl with apt"
  apt_install curl
fi

if [ ! -d tools/scripts/node_modules/playwright-core ]; then
  say "installing npm packages (npm ci in tools/scripts/)"
  # playwright-core downloads no browser; the check drives $CHROMIUM.
  (cd tools/scripts && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

say "install step took $((SECONDS - install_start))s"
check_start=$SECONDS

work=$(mktemp -d -t docs-browser-check.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    say "stopping the service"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A name of its own, so that nothing stopping other authapi processes on the
# machine by name stops this one in the middle of the check.
server="$work/docs-check-server"
say "building authapi"
go build -o "$server" .

port=$(node -e '
  const s = require("node:net").createServer();
  s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });
')
base="http://127.0.0.1:$port"
say "starting authapi on $base"
AUTH_ADDR="127.0.0.1:$port" AUTH_PUBLIC_URL="$base" \
  AUTH_DATABASE_URL="$work/auth.db" AUTH_SIGNING_KEY_FILE="$work/key.pem" AUTH_SECRET_KEY_FILE="$work/secret.key" \
  "$server" 2> "$work/service.log" &
pid=$!

ready=""
for _ in $(seq 300); do
  if curl -fsS "$base/readyz" >/dev/null 2>&1; then ready=1; break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    pid=""
    cat "$work/service.log" >&2
    die "authapi exited before it was ready"
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  cat "$work/service.log" >&2
  die "authapi was not ready within 30s"
fi

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
