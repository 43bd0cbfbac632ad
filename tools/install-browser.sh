#!/usr/bin/env bash
# Installs Debian's Chromium and its matching ChromeDriver (packages chromium and chromium-driver)
# for the browser test (tests/browser.rs), when either is absent. Debian builds both from the same
# source, so their versions always match; nothing is downloaded from elsewhere. Prints the two
# paths on stdout; everything else goes to stderr.
set -euo pipefail
have() { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }
if ! have; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-browser: need root or sudo to apt-get install chromium chromium-driver" >&2; exit 1; }
    sudo="sudo -n"
  fi
  install() { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium chromium-driver >&2; }
  echo "install-browser: installing Debian's chromium and chromium-driver" >&2
  # A fresh machine may have no package lists yet: update once, then retry.
  install || { $sudo apt-get update -q >&2 && install; }
  have || { echo "install-browser: chromium or chromedriver still missing after apt-get" >&2; exit 1; }
fi
echo /usr/bin/chromium
echo /usr/bin/chromedriver
