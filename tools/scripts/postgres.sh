#!/usr/bin/env bash
# Makes sure the PostgreSQL server that the tests use answers: the one at
# AUTH_TEST_POSTGRES_URL (default: the local server, user postgres). If
# nothing answers there and the server is the local one, it starts the
# installed cluster, as a machine that came up without it needs. Fails with
# a message that says what to do when it cannot.
set -euo pipefail
script=postgres
say() { echo "$script: $*"; }
die() { echo "$script: FAIL: $*" >&2; exit 1; }

url="${AUTH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"

answers() { pg_isready -q -d "$url" >/dev/null 2>&1; }

command -v pg_isready >/dev/null || die "pg_isready not found: install PostgreSQL (apt-get install postgresql) or set AUTH_TEST_POSTGRES_URL to a server"
if answers; then
  say "PostgreSQL answers"
  exit 0
fi
case "$url" in
  *@127.0.0.1:5432/* | *@localhost:5432/* | *@127.0.0.1/* | *@localhost/*) ;;
  *) die "no PostgreSQL answers at AUTH_TEST_POSTGRES_URL, which is not the local server this script can start" ;;
esac
command -v pg_ctlcluster >/dev/null || die "no PostgreSQL answers locally and pg_ctlcluster is not installed (apt-get install postgresql)"
versions=$(ls /etc/postgresql 2>/dev/null || true)
[ -n "$versions" ] || die "no PostgreSQL cluster is configured under /etc/postgresql"
version=$(echo "$versions" | sort -V | tail -1)
say "starting the local PostgreSQL $version cluster"
if [ "$(id -u)" -eq 0 ]; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || die "pg_ctlcluster could not start PostgreSQL $version"
else
  sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || die "pg_ctlcluster could not start PostgreSQL $version"
fi
for _ in $(seq 60); do
  if answers; then
    say "PostgreSQL answers"
    exit 0
  fi
  sleep 0.5
done
die "PostgreSQL $version started but does not answer at AUTH_TEST_POSTGRES_URL within 30 s"
