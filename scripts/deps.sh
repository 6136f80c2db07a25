#!/usr/bin/env bash
# Installs the Debian packages Trapline needs to build, test and run, when any is missing.
# Used by `make run` and `make test`; does nothing when everything is already present.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config clang libclang-rt-14-dev
    libssl-dev libuv1-dev libjansson-dev libjson-c-dev libyaml-dev libpcre2-dev libzstd-dev
    libsqlite3-dev sqlite3 libcurl4-openssl-dev libsystemd-dev libvectorscan-dev
    libmicrohttpd-dev libsodium-dev libargon2-dev libaudit-dev libcmocka-dev
    rsyslog rsyslog-openssl bsdutils openssl python3 iproute2 nftables procps systemd-journal-remote chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "trapline: missing Debian packages: ${missing[*]}" >&2
    echo "trapline: run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "trapline: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The package lists may be stale or absent on a fresh machine.
apt-get update -q >/dev/null || true
# policy-rc.d keeps rsyslog's package from starting a system daemon we never asked for.
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
if [ $had_policy -eq 0 ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
status=0
apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
[ $had_policy -eq 0 ] && rm -f /usr/sbin/policy-rc.d
exit $status
