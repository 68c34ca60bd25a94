#!/usr/bin/env bash
# One-off capture of the golden DHCP packets in this folder (run as root; not part of the tests).
# Builds server namespace ghdhcap-s (dnsmasq, 192.168.250.254/24) and client namespace ghdhcap-c
# joined by a veth pair, runs each real client once and records the exchange with tcpdump.
# Output: one pcap per client in $OUT; test/dhcp/golden/extract.ts turns them into *.hex fixtures.
set -euo pipefail
OUT=${1:-/tmp/ghdh-capture}
mkdir -p "$OUT"
S=ghdhcap-s C=ghdhcap-c
cleanup() {
  for ns in $S $C; do
    for p in $(ip netns pids $ns 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del $ns 2>/dev/null || true
  done
}
cleanup
trap cleanup EXIT
ip netns add $S; ip netns add $C
ip link add ghdhcs netns $S type veth peer name ghdhcc netns $C
ip -n $S link set ghdhcs name lan0; ip -n $C link set ghdhcc name eth0
ip -n $S addr add 192.168.250.254/24 dev lan0
ip -n $C link set eth0 address 02:00:00:00:aa:01
for ns in $S $C; do ip -n $ns link set lo up; done
ip -n $S link set lan0 up; ip -n $C link set eth0 up

ip netns exec $S dnsmasq --no-daemon --no-ping --port=0 --interface=lan0 --bind-interfaces \
  --dhcp-range=192.168.250.1,192.168.250.200,255.255.255.0,120 --dhcp-leasefile="$OUT/dnsmasq.leases" \
  --dhcp-boot=prologin.kpxe --dhcp-option=encap:175,176,1 --dhcp-authoritative --log-dhcp 2>"$OUT/dnsmasq.log" &
sleep 1

capture() { # name, command...
  local name=$1; shift
  ip netns exec $C tcpdump -i eth0 -U -w "$OUT/$name.pcap" 'udp port 67 or udp port 68' 2>/dev/null &
  local td=$!
  sleep 1
  "$@" || true
  sleep 1
  kill $td; wait $td 2>/dev/null || true
  ip -n $C addr flush dev eth0
}

dhclient_run() {
  ip netns exec $C timeout 15 dhclient -1 -v -sf /bin/true -lf "$OUT/dhclient.leases" -pf "$OUT/dhclient.pid" eth0
  ip -n $C addr add 192.168.250.94/24 dev eth0 # -sf /bin/true configures nothing; RELEASE is unicast from the bound address
  ip netns exec $C dhclient -r -v -sf /bin/true -pf "$OUT/dhclient.pid" -lf "$OUT/dhclient.leases" eth0
}
capture dhclient dhclient_run
capture udhcpc-pxe ip netns exec $C timeout 15 udhcpc -f -q -n -i eth0 -s /bin/true -V PXEClient:Arch:00000:UNDI:002001 \
  -x 0x5d:0000 -x 0x5e:010201 -x 0x61:00000102030405060708090a0b0c0d0e0f -O 175 -O 66 -O 67
dhcping_run() {
  ip -n $C addr add 192.168.250.94/24 dev eth0
  ip netns exec $C timeout 10 dhcping -v -s 192.168.250.254 -c 192.168.250.94 -h 02:00:00:00:aa:01
  ip netns exec $C timeout 10 dhcping -v -s 192.168.250.254 -c 192.168.250.94 -h 02:00:00:00:aa:01 -i
}
capture dhcping dhcping_run
perfdhcp_run() {
  ip -n $C addr add 192.168.250.10/24 dev eth0
  ip netns exec $C timeout 10 perfdhcp -4 -r 1 -n 1 -R 1 -l 192.168.250.10 192.168.250.254
}
capture perfdhcp-relay perfdhcp_run

# iPXE (Debian's QEMU NIC ROM) on a tap device bridged with the client veth; its DHCP is what
# an iPXE second stage sends (user class "iPXE", option 175 in the request list, options 93/94/97).
ipxe_run() {
  ip -n $C link add br0 type bridge
  ip -n $C link set eth0 master br0
  ip -n $C link set br0 up
  ip -n $C tuntap add dev tap0 mode tap
  ip -n $C link set tap0 master br0 up
  ip netns exec $C timeout 25 qemu-system-x86_64 -accel tcg -m 256 -display none -monitor none -serial none \
    -boot n -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device e1000,netdev=n0,mac=52:54:00:12:34:56,romfile=/usr/lib/ipxe/qemu/pxe-e1000.rom || true
}
capture_on() { # name, iface, command...
  local name=$1 dev=$2; shift 2
  "$@" &
  local job=$!
  sleep 2
  ip netns exec $C tcpdump -i $dev -U -w "$OUT/$name.pcap" 'udp port 67 or udp port 68' 2>/dev/null &
  local td=$!
  wait $job || true
  kill $td; wait $td 2>/dev/null || true
}
capture_on ipxe br0 ipxe_run
