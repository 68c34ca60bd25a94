#!/bin/sh
# keepalived `notify` hook for Gatehouse (docs/ha.md).
#
# keepalived runs:  keepalived-notify.sh INSTANCE <name> MASTER|BACKUP|FAULT|STOP <priority>
# and this tells the local Gatehouse, which re-checks at once whether it holds the floating
# addresses. Gatehouse takes its role from the addresses themselves (it also checks them every
# ha.addressCheckMs): if this hook fails, takeover is only slower, never wrong.
#
# Settings (environment, or /etc/default/gatehouse-ha):
#   GATEHOUSE_URL              local Gatehouse HTTP server (default http://127.0.0.1)
#   GATEHOUSE_HA_SECRET_FILE   file holding secrets.haReplication (default /etc/gatehouse/ha-secret)
[ -r /etc/default/gatehouse-ha ] && . /etc/default/gatehouse-ha
state="$3"
url="${GATEHOUSE_URL:-http://127.0.0.1}"
secret_file="${GATEHOUSE_HA_SECRET_FILE:-/etc/gatehouse/ha-secret}"
secret="$(cat "$secret_file" 2>/dev/null)"
if ! curl -sf -m 2 -o /dev/null -X POST -H "Authorization: Bearer ${secret}" "${url}/ha/v1/notify?state=${state}"; then
    logger -t gatehouse-ha "could not tell Gatehouse at ${url} about VRRP state ${state}" 2>/dev/null || true
fi
exit 0
