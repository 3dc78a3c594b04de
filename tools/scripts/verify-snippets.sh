#!/usr/bin/env bash
# Runs the token verifiers of docs/verifying-tokens.md, exactly as they appear
# there, against the built binary: builds authapi, starts it on a free
# loopback port with a fresh database and the log mailer, signs a user up and
# logs in, then checks that every verifier accepts the access token and
# refuses tampered, refresh, misaddressed and expired tokens, before and after
# a key rotation. Installs what is missing first (Node.js and npm, the npm
# packages of tools/scripts/verify-snippets/, Debian's PyJWT), so it runs on a
# fresh machine. Exits non-zero on any failure.
#
# Environment: PYTHON (default /usr/bin/python3, where Debian's python3-jwt
# goes).
set -euo pipefail
script=verify-snippets
cd "$(dirname "$0")/../.."
source tools/scripts/lib.sh

doc=docs/verifying-tokens.md
snippets=(go-resourceserver go-keyfunc node python)
node_dir=tools/scripts/verify-snippets
PYTHON="${PYTHON:-/usr/bin/python3}"

# --- what the snippets need

need_curl
need_node "jose 6 needs 20 or later"

# npm ci when node_modules is missing or does not hold the locked versions.
locked=$(cd "$node_dir" && node -p 'require("./package-lock.json").packages["node_modules/jose"].version')
installed=$(cd "$node_dir" && node -p 'require("./node_modules/jose/package.json").version' 2>/dev/null || true)
if [ "$installed" != "$locked" ]; then
  say "installing npm packages (npm ci in $node_dir)"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

if ! "$PYTHON" -c 'import jwt, cryptography' 2>/dev/null; then
  say "installing python3-jwt and python3-cryptography with apt (not importable by $PYTHON)"
  apt_install python3 python3-jwt python3-cryptography
  "$PYTHON" -c 'import jwt, cryptography' || die "$PYTHON still cannot import jwt and cryptography"
fi

# --- the snippets, extracted from the document

# Inside the module, so that the Go programs build against this checkout's
# resourceserver and go.mod, and under $node_dir, so that Node finds jose.
snip=$(mktemp -d "$node_dir/run.XXXXXX")
remove_on_exit+=("$snip")

# extract NAME prints the fenced block that follows "<!-- snippet: NAME -->"
# in the document; the fence must come on the next non-blank line.
extract() {
  awk -v marker="<!-- snippet: $1 -->" '
    !armed && $0 == marker { armed = 1; next }
    armed && !inside && /^```/ { inside = 1; next }
    armed && !inside && NF { exit 3 }
    inside && /^```[[:space:]]*$/ { done = 1; exit }
    inside { print }
    END { if (!done) exit 3 }
  ' "$doc"
}

found=$(grep -o '<!-- snippet: [a-z0-9-]* -->' "$doc" | sed 's/<!-- snippet: \(.*\) -->/\1/' | sort | tr '\n' ' ')
wanted=$(printf '%s\n' "${snippets[@]}" | sort | tr '\n' ' ')
[ "$found" = "$wanted" ] || die "$doc marks the snippets [$found], and this script runs [$wanted]: each must appear once in both"

mkdir -p "$snip/go-resourceserver" "$snip/go-keyfunc"
extract go-resourceserver > "$snip/go-resourceserver/main.go" || die "no go-resourceserver block in $doc"
extract go-keyfunc > "$snip/go-keyfunc/main.go" || die "no go-keyfunc block in $doc"
extract node > "$snip/verify-token.mjs" || die "no node block in $doc"
extract python > "$snip/verify_token.py" || die "no python block in $doc"

say "building authapi and the Go snippets"
build_authapi
go build -o "$work/go-resourceserver" "./$snip/go-resourceserver"
go build -o "$work/go-keyfunc" "./$snip/go-keyfunc"

# run NAME [ARG]: runs one snippet with the environment's AUTHAPI_* variables.
run() {
  case "$1" in
    go-resourceserver) "$work/go-resourceserver" "${@:2}" ;;
    go-keyfunc) "$work/go-keyfunc" "${@:2}" ;;
    node) node "$snip/verify-token.mjs" "${@:2}" ;;
    python) "$PYTHON" "$snip/verify_token.py" "${@:2}" ;;
  esac
}

# --- authapi, and tokens from it

choose_port

# post PATH JSON prints the response body, failing on a non-2xx status.
post() {
  curl -fsS "$base$1" -H 'Content-Type: application/json' -d "$2" \
    || { cat "$work/service.log" >&2; die "POST $1 failed"; }
}

# field NAME reads one string field of the JSON object on stdin.
field() { "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# kid prints the "kid" of a token's header.
kid() {
  "$PYTHON" -c 'import base64, json, sys; h = sys.argv[1].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"])' "$1"
}

email="snippets@example.com"
password="Vivid-Harbor-Lantern-7319"
login() { post /login "{\"email\":\"$email\",\"password\":\"$password\"}"; }

say "starting authapi on $base"
start_authapi AUTH_KEYS_RELOAD_INTERVAL=1s AUTH_KEY_ACTIVATION_DELAY=2s
user_id=$(post /signup "{\"email\":\"$email\",\"password\":\"$password\",\"first_name\":\"Snippet\",\"last_name\":\"Runner\"}" | field id)
code=$(grep -o 'activation code is [0-9]\{6\}' "$work/service.log" | tail -1 | grep -o '[0-9]\{6\}') \
  || die "no activation code in the service log"
post /verify "{\"email\":\"$email\",\"activation_code\":\"$code\"}" >/dev/null
tokens=$(login)
access=$(field access_token <<< "$tokens")
refresh=$(field refresh_token <<< "$tokens")

# tamper TOKEN PART changes the character in the middle of the PART-th
# (0-based) dot-separated part to another base64url character.
tamper() {
  local IFS=.
  local -a parts
  read -ra parts <<< "$1"
  local p=${parts[$2]}
  local i=$((${#p} / 2))
  local c=A
  [ "${p:i:1}" = A ] && c=B
  parts[$2]="${p:0:i}$c${p:i+1}"
  echo "${parts[*]}"
}
bad_signature=$(tamper "$access" 2)
bad_payload=$(tamper "$access" 1)
[ "$bad_signature" != "$access" ] && [ "$bad_payload" != "$access" ] || die "tampering changed nothing"

# --- the checks

export AUTHAPI_ISSUER="$base"
unset AUTHAPI_AUDIENCE AUTHAPI_JWKS_URL
passed=0
failed=0

# expect_valid NAME WHAT TOKEN [via-stdin]: the snippet must exit 0 and
# report the signed-up user.
expect_valid() {
  local out rc=0
  if [ "${4:-}" = via-stdin ]; then
    out=$(run "$1" <<< "$3" 2>&1) || rc=$?
  else
    out=$(run "$1" "$3" 2>&1) || rc=$?
  fi
  if [ "$rc" -eq 0 ] && grep -q "^valid: sub=$user_id " <<< "$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "verify-snippets: FAIL: $1 should accept $2, exited $rc: $out" >&2
  fi
}

# expect_invalid NAME WHAT TOKEN: the snippet must exit 1 and say why, so that
# a crash (or a missing dependency) does not pass for a refusal.
expect_invalid() {
  local out rc=0
  out=$(run "$1" "$3" 2>&1 </dev/null) || rc=$?
  if [ "$rc" -eq 1 ] && grep -q '^invalid token: ' <<< "$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "verify-snippets: FAIL: $1 should refuse $2 with exit code 1 and 'invalid token: ', exited $rc: $out" >&2
  fi
}

say "checking each snippet against tokens from the login"
for s in "${snippets[@]}"; do
  expect_valid "$s" "the access token" "$access"
  expect_valid "$s" "the access token on stdin" "$access" via-stdin
  expect_invalid "$s" "the access token with its signature changed" "$bad_signature"
  expect_invalid "$s" "the access token with its payload changed" "$bad_payload"
  expect_invalid "$s" "the refresh token" "$refresh"
  AUTHAPI_AUDIENCE="https://api.other.example" expect_invalid "$s" "a token for another audience" "$access"
  AUTHAPI_ISSUER="https://auth.other.example" AUTHAPI_JWKS_URL="$base/.well-known/jwks.json" \
    AUTHAPI_AUDIENCE="$base" expect_invalid "$s" "a token from another issuer" "$access"
  # Misconfiguration is exit code 2, so that it cannot pass for a refusal.
  rc=0
  AUTHAPI_ISSUER="" run "$s" "$access" >/dev/null 2>&1 </dev/null || rc=$?
  if [ "$rc" -eq 2 ]; then passed=$((passed + 1)); else
    failed=$((failed + 1))
    echo "verify-snippets: FAIL: $s without AUTHAPI_ISSUER exited $rc, want 2" >&2
  fi
done

say "rotating the signing key while authapi runs"
# The service reads its keys every second here, and a new key signs two
# seconds after the rotation (the defaults are a minute and six).
AUTH_DATABASE_URL="$work/auth.db" AUTH_SIGNING_KEY_FILE="$work/key.pem" AUTH_SECRET_KEY_FILE="$work/secret.key" \
  AUTH_KEYS_RELOAD_INTERVAL=1s AUTH_KEY_ACTIVATION_DELAY=2s "$server" keys rotate >/dev/null 2>> "$work/service.log" \
  || { cat "$work/service.log" >&2; die "authapi keys rotate failed"; }
rotated=""
for _ in $(seq 20); do   # a login every half second stays well inside the login limit
  rotated=$(login | field access_token)
  [ "$(kid "$rotated")" != "$(kid "$access")" ] && break
  sleep 0.5
done
[ "$(kid "$rotated")" != "$(kid "$access")" ] || die "tokens still name the old key 10 s after the rotation"
for s in "${snippets[@]}"; do
  expect_valid "$s" "a token signed by the new key" "$rotated"
  expect_valid "$s" "a token signed by the previous key" "$access"
done

say "restarting authapi with 1-second access tokens"
stop_authapi
start_authapi AUTH_ACCESS_TOKEN_TTL=1s
short=$(login | field access_token)
sleep 2.1
for s in "${snippets[@]}"; do
  expect_invalid "$s" "an expired token" "$short"
done

echo "verify-snippets: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  echo "--- service log" >&2
  cat "$work/service.log" >&2
  exit 1
fi
