/**
 * The counts of `dhcp.summary` (src/log-summary.ts): one line per second that had DHCP traffic,
 * the readable log of a boot storm (docs/dhcp.md, Operations).
 */
export type DhcpSecond = {
  discover: number;
  request: number;
  /** DISCOVERs and REQUESTs from a PXE ROM (vendor class PXEClient, not iPXE). */
  pxe: number;
  /** DISCOVERs and REQUESTs from iPXE (user class iPXE or option 175). */
  ipxe: number;
  /** Any other message type (RELEASE, DECLINE, INFORM, BOOTP…). */
  other: number;
  offer: number;
  ack: number;
  nak: number;
  /** Requests not answered, by policy (reason in gatehouse_dhcp_dropped_total). */
  dropped: number;
  /** DISCOVERs dropped unread by the overload guard. */
  shed: number;
  malformed: number;
};

export function dhcpSecond(): DhcpSecond {
  return {
    discover: 0,
    request: 0,
    pxe: 0,
    ipxe: 0,
    other: 0,
    offer: 0,
    ack: 0,
    nak: 0,
    dropped: 0,
    shed: 0,
    malformed: 0,
  };
}
