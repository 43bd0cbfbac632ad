#!/usr/bin/env bash
# Installs what the tests need from Debian's packages, when absent: Chromium and its matching
# ChromeDriver (chromium, chromium-driver) for the browser test (tests/browser.rs; Debian builds
# both from the same source, so their versions always match), and wrk, the load generator
# `calibrate` compares the harness's client with (tests/calibrate.rs), and tcpdump, whose packet
# capture the byte counters are checked against (tests/tls.rs), and certutil (libnss3-tools), which
# puts a run's CA in the test browser's certificate database (tests/browser.rs, the demo over
# HTTPS), and ClamAV's daemon (clamav-daemon: clamd, which `run` starts with a signature database
# it makes itself, since freshclam cannot download ClamAV's; tests/scan.rs), and nginx with its
# JavaScript module (nginx, libnginx-mod-http-js: the CDN cache `run` starts for `[downloads] cdn`;
# tests/cdn.rs), and Podman with runc and catatonit (podman, runc, catatonit: the container tests,
# tests/container.rs, and the images tools/build-images.sh builds; catatonit is the init of a pod's
# infra container, which `podman kube play` needs and Podman only recommends). Debian's packages do not start their services here (no init system runs them). Nothing is downloaded from elsewhere.
# Prints the paths on stdout; everything else goes to stderr.
set -euo pipefail
have() { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && [ -x /usr/bin/wrk ] && command -v tcpdump >/dev/null && [ -x /usr/bin/certutil ] && [ -x /usr/sbin/clamd ] && [ -x /usr/sbin/nginx ] && [ -f /usr/lib/nginx/modules/ngx_http_js_module.so ] && [ -x /usr/bin/podman ] && command -v runc >/dev/null && [ -x /usr/bin/catatonit ]; }
if ! have; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-debian-packages: need root or sudo to apt-get install chromium chromium-driver wrk tcpdump libnss3-tools clamav-daemon nginx libnginx-mod-http-js podman runc catatonit" >&2; exit 1; }
    sudo="sudo -n"
  fi
  install() { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium chromium-driver wrk tcpdump libnss3-tools clamav-daemon nginx libnginx-mod-http-js podman runc catatonit >&2; }
  echo "install-debian-packages: installing Debian's chromium, chromium-driver, wrk, tcpdump, libnss3-tools, clamav-daemon, nginx, libnginx-mod-http-js, podman, runc and catatonit" >&2
  # A fresh machine may have no package lists yet: update once, then retry.
  install || { $sudo apt-get update -q >&2 && install; }
  have || { echo "install-debian-packages: chromium, chromedriver, wrk, tcpdump, certutil, clamd, nginx, its JavaScript module, podman, runc or catatonit still missing after apt-get" >&2; exit 1; }
fi
echo /usr/bin/chromium
echo /usr/bin/chromedriver
echo /usr/bin/wrk
command -v tcpdump
echo /usr/bin/certutil
echo /usr/sbin/clamd
echo /usr/sbin/nginx
echo /usr/bin/podman
