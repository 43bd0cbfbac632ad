#!/usr/bin/env bash
# Builds this project's container images locally, with no registry: both are `FROM scratch` with
# one static binary, so nothing is pulled. Uses Podman (with tools/containers.conf) or, where
# Podman is absent, Docker. Prints the images' names on stdout; everything else goes to stderr.
#
#   tools/build-images.sh            # both images
#   tools/build-images.sh minio      # presign-bench/minio:<pinned version>, from docker/install-minio.sh's binary
#   tools/build-images.sh app        # presign-bench:local, docker/Containerfile.static
#
# The app image's binary is built by cargo for x86_64-unknown-linux-gnu with the C runtime linked
# statically (crt-static), in the profile PROFILE (default release; the test command uses dev,
# which compiles in a fraction of the time and is enough for what the tests check: that the image
# runs every role). Both are tagged `local` as well, the tag docker/k8s uses.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
profile="${PROFILE:-release}"
fail() { echo "build-images: $*" >&2; exit 1; }

if command -v podman >/dev/null 2>&1; then
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/tools/containers.conf}"
  engine=podman
elif command -v docker >/dev/null 2>&1; then
  engine=docker
else
  fail "neither podman nor docker is installed (tools/install-debian-packages.sh installs Podman)"
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

build() { # build TAG... (context $ctx, file $ctx/Containerfile)
  local args=()
  for tag in "$@"; do args+=(-t "$tag"); done
  start=$(date +%s)
  "$engine" build -q -f "$ctx/Containerfile" "${args[@]}" "$ctx" >/dev/null || fail "$engine build of $1 failed (see above)"
  echo "build-images: $1 built in $(( $(date +%s) - start )) s" >&2
  rm -rf "${ctx:?}"/*
}

if [ "$what" = all ] || [ "$what" = minio ]; then
  version=$(sed -n 's/^MINIO_VERSION=//p' docker/install-minio.sh)
  cp "$(docker/install-minio.sh)" "$ctx/minio"
  cp docker/Dockerfile.minio "$ctx/Containerfile"
  build "presign-bench/minio:$version" presign-bench/minio:local
  echo "presign-bench/minio:$version"
fi

if [ "$what" = all ] || [ "$what" = app ]; then
  target=x86_64-unknown-linux-gnu
  [ "$(uname -m)" = x86_64 ] || fail "the static build is for $target; on $(uname -m) use docker/Dockerfile"
  start=$(date +%s)
  # --target keeps the flag off build scripts and proc-macros, which cannot be static.
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --locked --quiet --profile "$profile" --target "$target" --bin presign-bench >&2 ||
    fail "cargo build of the static binary failed (see above)"
  dir=$profile; [ "$profile" = dev ] && dir=debug
  echo "build-images: static presign-bench ($profile) built in $(( $(date +%s) - start )) s" >&2
  cp "target/$target/$dir/presign-bench" "$ctx/presign-bench"
  cp -r scenarios "$ctx/scenarios"
  cp docker/Containerfile.static "$ctx/Containerfile"
  build presign-bench:local
  echo presign-bench:local
fi
