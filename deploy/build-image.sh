#!/usr/bin/env bash
# Builds the authapi container image from files on this machine, with no base
# image to download: the static binary, the CA certificates and two lines of
# /etc/passwd and /etc/group go into an empty (scratch) image, the
# Containerfile's "prebuilt" target.
#
#   deploy/build-image.sh [TAG]            build the image (default authapi:latest)
#   deploy/build-image.sh --context DIR    only prepare the build context in DIR
#
# Environment:
#   AUTHAPI_BUILDER  buildah, podman or docker (default: the first one found)
#   AUTHAPI_BINARY   an already built static binary to use instead of building one
#
# The user id 65532 here must match USER and --chown in deploy/Containerfile.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly uid=65532
readonly ca_bundle=/etc/ssl/certs/ca-certificates.crt

# prepare_context writes DIR/rootfs (files owned by root in the image) and
# DIR/data/authapi (the empty data directory, owned by the user in the image).
# The Containerfile copies data/ into /var/lib, which rootfs/ creates, so
# that only the data directory changes owner and it keeps its mode.
prepare_context() {
  local dir=$1
  mkdir -p "$dir/rootfs/etc/ssl/certs" "$dir/rootfs/tmp" "$dir/rootfs/var/lib" "$dir/data/authapi"
  if [ -n "${AUTHAPI_BINARY:-}" ]; then
    cp "$AUTHAPI_BINARY" "$dir/rootfs/authapi"
  else
    # CGO_ENABLED=0: a scratch image has no C library to link against.
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$dir/rootfs/authapi" .
  fi
  chmod 0755 "$dir/rootfs/authapi"
  if [ ! -s "$ca_bundle" ]; then
    echo "build-image: $ca_bundle is missing (apt-get install ca-certificates); SMTP over TLS needs it" >&2
    exit 1
  fi
  cp "$ca_bundle" "$dir/rootfs/etc/ssl/certs/ca-certificates.crt"
  chmod 0644 "$dir/rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'authapi:x:%d:%d:authapi:/var/lib/authapi:/sbin/nologin\n' "$uid" "$uid" > "$dir/rootfs/etc/passwd"
  printf 'authapi:x:%d:\n' "$uid" > "$dir/rootfs/etc/group"
  chmod 0644 "$dir/rootfs/etc/passwd" "$dir/rootfs/etc/group"
  # SQLite puts large temporary files in /tmp.
  chmod 1777 "$dir/rootfs/tmp"
  # The database and the signing key: nobody but the service reads them.
  chmod 0700 "$dir/data/authapi"
}

if [ "${1:-}" = "--context" ]; then
  [ $# -eq 2 ] || { echo "usage: $0 --context DIR" >&2; exit 2; }
  prepare_context "$2"
  exit 0
fi
[ $# -le 1 ] || { echo "usage: $0 [TAG] | --context DIR" >&2; exit 2; }
tag=${1:-authapi:latest}

builder=${AUTHAPI_BUILDER:-}
if [ -z "$builder" ]; then
  for candidate in buildah podman docker; do
    if command -v "$candidate" >/dev/null; then builder=$candidate; break; fi
  done
fi
case "$builder" in
  # The Docker format keeps HEALTHCHECK; the OCI format drops it.
  buildah) build=(buildah build --format docker) ;;
  podman) build=(podman build --format docker) ;;
  docker) build=(docker build) ;;
  "") echo "build-image: no image builder found: install buildah, podman or docker" >&2; exit 1 ;;
  *) echo "build-image: AUTHAPI_BUILDER=$builder: want buildah, podman or docker" >&2; exit 1 ;;
esac

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
prepare_context "$context"
"${build[@]}" --target prebuilt -f deploy/Containerfile -t "$tag" "$context"
echo "build-image: built $tag with $builder"
