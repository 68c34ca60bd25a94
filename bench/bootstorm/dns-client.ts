/** One DNS A query from the machine's address, retried like a stub resolver (1 s, 3 tries). */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

export type DnsResult =
  | { ok: true; addresses: string[]; retransmissions: number }
  | { ok: false; reason: string; retransmissions: number };

export function queryA(opts: {
  server: string;
  name: string;
  localAddress: string;
  timeoutMs?: number;
  tries?: number;
}): Promise<DnsResult> {
  const timeoutMs = opts.timeoutMs ?? 1000;
  const tries = opts.tries ?? 3;
  const id = Math.floor(Math.random() * 0xffff);
  const query = dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name: opts.name }],
  });
  const socket = dgram.createSocket('udp4');
  return new Promise<DnsResult>((resolve) => {
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: DnsResult) => {
      if (timer) clearTimeout(timer);
      socket.close();
      resolve(r);
    };
    const send = () => {
      if (sent >= tries) return finish({ ok: false, reason: 'timeout', retransmissions: sent - 1 });
      sent++;
      socket.send(query, 53, opts.server);
      timer = setTimeout(send, timeoutMs);
    };
    socket.on('error', (e) =>
      finish({
        ok: false,
        reason: (e as NodeJS.ErrnoException).code?.toLowerCase() ?? 'error',
        retransmissions: sent - 1,
      }),
    );
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address !== opts.server || rinfo.port !== 53) return;
      let p: ReturnType<typeof dnsPacket.decode>;
      try {
        p = dnsPacket.decode(msg);
      } catch {
        return;
      }
      if (p.id !== id) return;
      const rcode = (p as { rcode?: string }).rcode;
      if (rcode && rcode !== 'NOERROR')
        return finish({ ok: false, reason: `rcode-${rcode.toLowerCase()}`, retransmissions: sent - 1 });
      const addresses = (p.answers ?? []).flatMap((a) => (a.type === 'A' ? [String(a.data)] : []));
      finish({ ok: true, addresses, retransmissions: sent - 1 });
    });
    socket.bind(0, opts.localAddress, send);
  });
}
