#!/usr/bin/env bash
# Installs the Debian packages the test suite and benches drive (real peers and clients).
# Idempotent: does nothing when every package is already installed.
set -euo pipefail
PACKAGES=(
  dnsutils knot-dnsutils nftables nginx tftp-hpa atftp curl udhcpc isc-dhcp-client iproute2 lldpd
  nsd knot dnsperf kea-admin kea-dhcp4-server dnsmasq-base conntrack tcpdump tftpd-hpa qemu-system-x86
  ipxe-qemu dhcping bind9 bind9-utils wrk procps psmisc python3 iputils-ping chromium keepalived
  conntrackd
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
  exit 0
fi
echo "install-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts some of these services on install; the tests start their own instances.
for svc in nginx nsd knot named bind9 tftpd-hpa lldpd kea-dhcp4-server dnsmasq keepalived conntrackd; do
  (systemctl stop "$svc" 2>/dev/null || service "$svc" stop 2>/dev/null || true) >/dev/null 2>&1
done
pkill -x nsd 2>/dev/null || true
pkill -x knotd 2>/dev/null || true
pkill -x named 2>/dev/null || true
pkill -x in.tftpd 2>/dev/null || true
pkill -x lldpd 2>/dev/null || true
exit 0
