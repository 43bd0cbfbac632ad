#!/usr/bin/env bash
# Installs the pinned actionlint (the GitHub Actions workflow linter the tests run on
# .github/workflows/) with `go install` and prints the binary's path on stdout. Reuses an
# installed binary of the pinned version.
#
#   tools/install-actionlint.sh          # install if needed, print the path
#
# Location, shared by every clone on the machine:
#   ${XDG_CACHE_HOME:-~/.cache}/presign-bench/actionlint/<version>/actionlint
set -euo pipefail

MODULE=github.com/rhysd/actionlint
VERSION=v1.7.12

fail() { echo "install-actionlint: $*" >&2; exit 1; }

bin="${XDG_CACHE_HOME:-$HOME/.cache}/presign-bench/actionlint/$VERSION/actionlint"
command -v go >/dev/null 2>&1 || fail "Go is not installed (actionlint is built with go install)"
if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | grep -q "mod[[:space:]]*$MODULE[[:space:]]*$VERSION"; then
  echo "$bin"
  exit 0
fi
echo "install-actionlint: building $MODULE@$VERSION" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" CGO_ENABLED=0 go install "$MODULE/cmd/actionlint@$VERSION" >&2 ||
  fail "go install $MODULE/cmd/actionlint@$VERSION failed (see above)"
mkdir -p "$(dirname "$bin")"
mv "$tmp/actionlint" "$bin"
echo "$bin"
