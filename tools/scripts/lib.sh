# shellcheck shell=bash
# What the scripts in tools/scripts share: messages, installing with apt, and
# running the built authapi on a free loopback port. A script sets $script to
# its name, which its messages carry, and sources this file from the
# repository's root:
#
#   script=doc-client
#   cd "$(dirname "$0")/../.."
#   source tools/scripts/lib.sh
#
# Sourcing makes $work, a temporary directory, and sets an EXIT trap that
# stops the service start_authapi started and removes $work and every path
# added to $remove_on_exit.

say() { echo "$script: $*"; }
die() { echo "$script: FAIL: $*" >&2; exit 1; }

# as_root runs a command as root, through sudo when not root already.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

apt_updated=""
# apt_install PACKAGE... installs Debian packages, updating the lists once.
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* yourself"
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# need_curl installs curl unless it is there; start_authapi polls with it.
need_curl() {
  command -v curl >/dev/null || { say "installing curl with apt"; apt_install curl; }
}

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# need_node WHY installs Node.js and npm unless both are there, and fails
# unless Node.js is 20 or later, saying WHY.
need_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    say "installing nodejs and npm with apt"
    apt_install nodejs npm
  fi
  [ "$(node_major)" -ge 20 ] || die "Node.js $(node --version 2>/dev/null || echo none) is too old; $1"
}

work=$(mktemp -d -t "$script.XXXXXX")
remove_on_exit=("$work")
# announce_stop, when set, has the EXIT trap say that it stops the service.
announce_stop=""

# The service: its executable, port, URL and process id, once known.
server=""
port=""
base=""
pid=""

cleanup() {
  if [ -n "$pid" ] && [ -n "$announce_stop" ]; then say "stopping the service"; fi
  stop_authapi
  rm -rf "${remove_on_exit[@]}"
}
trap cleanup EXIT

# build_authapi builds authapi into $work, once, and sets $server to it. The
# executable has a name of its own, so that nothing stopping authapi
# processes by name stops it in the middle of the script.
build_authapi() {
  [ -n "$server" ] && return
  go build -o "$work/$script-server" .
  server="$work/$script-server"
}

# free_port prints a loopback port nobody listens on, for the service or for
# anything a script serves beside it.
free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
  elif command -v node >/dev/null; then
    node -e '
      const s = require("node:net").createServer();
      s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });
    '
  else
    die "need python3 or node to find a free port"
  fi
}

# choose_port sets $port, once, to a free loopback port, and $base to the
# service's URL on it.
choose_port() {
  [ -n "$port" ] && return
  port=$(free_port)
  base="http://127.0.0.1:$port"
}

# start_authapi [NAME=value...] starts authapi (built by build_authapi if it
# is not yet) on $port (chosen by choose_port if it is not yet: a restart
# keeps the URL, which is the issuer of its tokens), with its database,
# signing key and server secret in $work and the settings given (the mailer
# stays the default, log, which prints the emails to the log). Its stderr goes to $work/service.log. It waits up to 30 s for
# /readyz to answer 200 and records the process id in $pid, for stop_authapi
# and the EXIT trap.
start_authapi() {
  need_curl
  build_authapi
  choose_port
  env AUTH_ADDR="127.0.0.1:$port" AUTH_PUBLIC_URL="$base" \
    AUTH_DATABASE_URL="$work/auth.db" AUTH_SIGNING_KEY_FILE="$work/key.pem" AUTH_SECRET_KEY_FILE="$work/secret.key" "$@" \
    "$server" 2>> "$work/service.log" &
  pid=$!
  for _ in $(seq 300); do
    if curl -fsS "$base/readyz" >/dev/null 2>&1; then return; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      pid=""
      cat "$work/service.log" >&2
      die "authapi exited before it was ready"
    fi
    sleep 0.1
  done
  cat "$work/service.log" >&2
  die "authapi was not ready within 30s"
}

# stop_authapi stops the service, if it runs, and waits for it.
stop_authapi() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
