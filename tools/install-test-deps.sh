#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, each pinned and built once per machine
# into ~/.cache/presign-bench: MinIO (real S3 for the MinIO tests) and actionlint (checks the
# example CI workflow); and, from Debian's packages when absent, Chromium with its ChromeDriver
# (the browser test) and wrk (calibrate's yardstick); and the deployment files' linters (kustomize, kubernetes-validate, hadolint);
# then the container images (tools/build-images.sh, the app's in the dev profile) for tests/container.rs.
# Prints nothing on stdout but the installed paths.
set -euo pipefail
cd "$(dirname "$0")/.."
docker/install-minio.sh
tools/install-actionlint.sh
tools/install-debian-packages.sh
tools/install-deploy-linters.sh
PROFILE=dev tools/build-images.sh >/dev/null
