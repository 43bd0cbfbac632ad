#!/usr/bin/env bash
# Installs the pinned MinIO server with `go install` (MinIO's community edition ships as source
# only) and prints the binary's path on stdout. Reuses an installed binary of the pinned version;
# rebuilds one of another version. Building takes minutes on two cores, so it is done once per
# machine, never inside a test.
#
#   docker/install-minio.sh            # install if needed, print the path
#   MINIO_BIN=/path/to/minio ...       # use (and, if needed, install to) this path instead
#
# The default location is outside the repository, in the user's cache folder, so every clone on
# the machine (CI's fresh clones included) shares one build:
#   ${XDG_CACHE_HOME:-~/.cache}/presign-bench/minio/<version>/minio
set -euo pipefail

# The module's pseudo-version (from `go list -m github.com/minio/minio@latest`), pinned so runs are
# reproducible; results.json records `minio --version` of the binary that ran.
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

fail() { echo "install-minio: $*" >&2; exit 1; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/presign-bench/minio/$MINIO_VERSION"
bin="${MINIO_BIN:-$cache/minio}"

installed_version() {
  # `go version -m` reads the module version the binary was built from.
  go version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "'"$MINIO_MODULE"'" { print $3 }'
}

command -v go >/dev/null 2>&1 || fail "Go is not installed (MinIO is built from source with go install; Go 1.24 or newer)"
if [ -x "$bin" ] && [ "$(installed_version "$bin")" = "$MINIO_VERSION" ]; then
  echo "$bin"
  exit 0
fi
go list -m "$MINIO_MODULE@$MINIO_VERSION" >/dev/null 2>&1 ||
  fail "the Go module proxy ($(go env GOPROXY)) does not answer for $MINIO_MODULE@$MINIO_VERSION"
echo "install-minio: building $MINIO_MODULE@$MINIO_VERSION into $(dirname "$bin") (takes minutes)" >&2
start=$(date +%s)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" CGO_ENABLED=0 go install "$MINIO_MODULE@$MINIO_VERSION" >&2 ||
  fail "go install $MINIO_MODULE@$MINIO_VERSION failed (see above)"
mkdir -p "$(dirname "$bin")"
mv "$tmp/minio" "$bin"
echo "install-minio: built in $(( $(date +%s) - start )) s" >&2
echo "$bin"
