#!/usr/bin/env bash
# Firewall benches in a scratch network namespace (needs root): bash bench/nft/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ns="ghfw-bench-$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" env NODE_OPTIONS= node --import tsx bench/nft/set-replace.ts
