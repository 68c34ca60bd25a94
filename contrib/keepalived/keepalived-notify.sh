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
#   CONNTRACKD_CONFIG          conntrackd's config, e.g. /etc/conntrackd/conntrackd.conf: set it to
#                              have the synchronised connections committed on MASTER
#                              (contrib/conntrackd) and loose TCP pickup turned off
#                              (nf_conntrack_tcp_loose=0); unset, both are left alone
[ -r /etc/default/gatehouse-ha ] && . /etc/default/gatehouse-ha
state="$3"

# conntrackd first, as conntrack-tools' primary-backup.sh: the contestants' connections are
# waiting for their state. MASTER: commit the peer's connections into the kernel table, flush
# the caches, resynchronise with the kernel, send everything to the peer. BACKUP: shorten the
# timers of the kernel entries this gateway no longer forwards, ask the new primary for its state.
ct_conf="${CONNTRACKD_CONFIG:-}"
if [ -n "$ct_conf" ] && command -v conntrackd >/dev/null 2>&1 && [ -r "$ct_conf" ]; then
    # No loose pickup of mid-stream TCP segments (conntrack-tools manual, "Synchronization"):
    # keepalived moves the addresses before it runs this hook, so segments of a synchronised
    # connection can reach the new primary before `conntrackd -c` below committed it. Picked
    # up, a server's segment is one for this gateway's own address: its RST kills the NATed
    # connection. Not picked up, it is invalid, Gatehouse's `ct state invalid drop` drops it
    # and TCP retransmits it after the commit. Set on every state, so it is already in force
    # on the standby when it becomes MASTER (/etc/sysctl.d as well: docs/ha.md).
    sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 >/dev/null 2>&1 ||
        logger -t gatehouse-ha "could not set net.netfilter.nf_conntrack_tcp_loose=0" 2>/dev/null || true
    case "$state" in
        MASTER) ct_steps="-c -f -R -B" ;;
        BACKUP) ct_steps="-t -n" ;;
        FAULT) ct_steps="-t" ;;
        *) ct_steps="" ;;
    esac
    for step in $ct_steps; do
        conntrackd -C "$ct_conf" "$step" >/dev/null 2>&1 ||
            logger -t gatehouse-ha "conntrackd $step failed (VRRP state ${state})" 2>/dev/null || true
    done
fi
url="${GATEHOUSE_URL:-http://127.0.0.1}"
secret_file="${GATEHOUSE_HA_SECRET_FILE:-/etc/gatehouse/ha-secret}"
secret="$(cat "$secret_file" 2>/dev/null)"
if ! curl -sf -m 2 -o /dev/null -X POST -H "Authorization: Bearer ${secret}" "${url}/ha/v1/notify?state=${state}"; then
    logger -t gatehouse-ha "could not tell Gatehouse at ${url} about VRRP state ${state}" 2>/dev/null || true
fi
exit 0
