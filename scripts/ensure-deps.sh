#!/usr/bin/env bash
# Makes sure the system packages the tests need are present: nats-server (integration tests) and, once the
# inspector's browser tests exist, Chromium. Installs them with apt-get when running as root on Debian;
# otherwise stops with a message naming the package. A missing server is an error, never skipped tests.
set -euo pipefail

apt_updated=0
apt_install() {
  local pkg="$1"
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "troupe: installing Debian package '$pkg' (apt-get)" >&2
    if [ "$apt_updated" = "0" ]; then apt-get update -qq >&2; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >&2
  else
    echo "troupe: the tests need the Debian package '$pkg'. Install it (as root: apt-get install $pkg)$2 and run the tests again." >&2
    exit 1
  fi
}

nats_bin="${NATS_SERVER_BIN:-}"
if [ -n "$nats_bin" ]; then
  [ -x "$nats_bin" ] || { echo "troupe: NATS_SERVER_BIN=$nats_bin is not an executable" >&2; exit 1; }
elif ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  apt_install nats-server ", or set NATS_SERVER_BIN to a nats-server >= 2.9 binary,"
fi

if [ "${TROUPE_NEEDS_CHROMIUM:-0}" = "1" ] && [ ! -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]; then
  apt_install chromium ", or set CHROMIUM_BIN,"
fi
