#!/usr/bin/env bash
# Builds the container image with deploy/build-image.sh (buildah, no base image
# downloaded), runs it with podman on a fresh volume and checks it: /readyz
# answers 200, the image's HEALTHCHECK passes, the process runs as 65532, a
# signup succeeds, SIGTERM stops it cleanly, and a second container on the
# same volume serves the same signing key. Needs root and Debian's buildah,
# podman and runc, which it installs when missing.
#
# AUTHAPI_BINARY=path checks an already built static binary instead of
# building one.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly image=localhost/authapi:check
readonly name=authapi-check
readonly volume=authapi-check-data

need=()
for tool in buildah podman runc curl python3; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "check-image: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cleanup() {
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  podman rmi -f "$image" >/dev/null 2>&1 || true
}
fail() {
  echo "check-image: FAIL: $*" >&2
  echo "--- container log" >&2
  podman logs "$name" >&2 2>&1 || true
  exit 1
}
trap cleanup EXIT
cleanup

AUTHAPI_BUILDER=buildah deploy/build-image.sh "$image"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port

# start runs the image on the volume. runc rather than crun: crun refuses
# hosts that mount cgroup v1 and v2 side by side. Explicit limits: podman's
# default ones need CAP_SYS_RESOURCE, which sandboxed CI runners lack.
# Without systemd podman cannot schedule health checks and logs errors saying
# so; they are harmless, as this script runs the image's health check itself.
start() {
  podman run -d --name "$name" --runtime runc \
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
    --stop-timeout 40 \
    -p "127.0.0.1:$port:8080" -v "$volume:/var/lib/authapi" "$image" >/dev/null
  for _ in $(seq 100); do
    if curl -fsS "$base/readyz" >/dev/null 2>&1; then return 0; fi
    [ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ] || fail "the container exited"
    sleep 0.1
  done
  fail "$base/readyz did not answer 200 within 10 s"
}

stop() {
  podman stop -t 40 "$name" >/dev/null
  code=$(podman inspect -f '{{.State.ExitCode}}' "$name")
  [ "$code" = 0 ] || fail "exit code $code after SIGTERM, want 0"
  podman logs "$name" 2>&1 | grep -q 'msg=stopped' || fail "no graceful stop in the log"
  podman rm "$name" >/dev/null
}

start
echo "check-image: /readyz answers 200"

podman healthcheck run "$name" >/dev/null || fail "the image's health check (authapi health) failed"
echo "check-image: the health check passes"

user=$(podman top "$name" huser | tail -1 | tr -d ' ')
[ "$user" = 65532 ] || fail "the service runs as $user, want 65532"
echo "check-image: the service runs as 65532"

status=$(curl -sS -o /dev/null -w '%{http_code}' "$base/signup" -H 'Content-Type: application/json' \
  -d '{"email":"image.check@example.com","password":"StrongPassword123!","first_name":"Image","last_name":"Check"}')
[ "$status" = 201 ] || fail "signup answered $status, want 201"
echo "check-image: signup answers 201"

jwks_before=$(curl -fsS "$base/.well-known/jwks.json")
stop
echo "check-image: SIGTERM stops it with exit code 0"

start
[ "$(curl -fsS "$base/.well-known/jwks.json")" = "$jwks_before" ] \
  || fail "the signing key changed across a restart on the same volume"
stop
echo "check-image: the signing key survives a restart on the volume"

echo "check-image: ok"
