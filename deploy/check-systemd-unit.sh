#!/usr/bin/env bash
# Checks deploy/authapi.service with systemd-analyze: the unit must verify
# without a single message (verify exits 0 on unknown or misspelt settings,
# so any output fails the check), and its sandbox must keep the exposure
# score that systemd-analyze security gives it at or below 3.0. Skips, and
# exits 0, where systemd-analyze is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null; then
  echo "check-systemd-unit: skipped: systemd-analyze not available"
  exit 0
fi

fail() {
  echo "check-systemd-unit: FAIL: $*" >&2
  exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# verify wants the ExecStart binary to exist: point it at a stub.
printf '#!/bin/sh\nexit 0\n' > "$work/authapi"
chmod 0755 "$work/authapi"
sed "s#^ExecStart=/usr/local/bin/authapi #ExecStart=$work/authapi #" deploy/authapi.service > "$work/authapi.service"
grep -qx "ExecStart=$work/authapi serve" "$work/authapi.service" \
  || fail "no 'ExecStart=/usr/local/bin/authapi serve' line in deploy/authapi.service"

if ! out=$(systemd-analyze verify "$work/authapi.service" 2>&1) || [ -n "$out" ]; then
  printf '%s\n' "$out" >&2
  fail "systemd-analyze verify complained"
fi
echo "check-systemd-unit: systemd-analyze verify: no complaints"

# --offline and --threshold arrived in systemd 250; the threshold is in
# tenths of the score (30 is 3.0).
if systemd-analyze security --help 2>&1 | grep -q -- '--threshold'; then
  if ! out=$(systemd-analyze security --offline=yes --threshold=30 "$work/authapi.service" 2>&1); then
    printf '%s\n' "$out" >&2
    fail "the sandbox's exposure score is above 3.0"
  fi
  echo "check-systemd-unit: $(printf '%s\n' "$out" | grep 'Overall exposure level')"
else
  echo "check-systemd-unit: exposure score skipped: this systemd-analyze has no --offline/--threshold"
fi
echo "check-systemd-unit: ok"
