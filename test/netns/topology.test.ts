import t from 'tap';
import { createLan, needsRoot } from '../helpers/netns.js';

t.test('the LAN topology connects clients, gateway and Internet namespaces', { skip: needsRoot }, async (t) => {
  const lan = await createLan({ prefix: 'ghtopo', clients: 2 });
  t.teardown(() => lan.destroy());
  await lan.clients[0]!.exec('ip', ['addr', 'add', '192.168.0.10/23', 'dev', 'eth0']);
  await lan.clients[1]!.exec('ip', ['addr', 'add', '192.168.0.11/23', 'dev', 'eth0']);
  const ping = await lan.clients[0]!.exec('ping', ['-c1', '-W2', '192.168.1.254'], { allowFail: true });
  t.equal(ping.code, 0, 'client reaches the gateway over the bridge');
  const peer = await lan.clients[0]!.exec('ping', ['-c1', '-W2', '192.168.0.11'], { allowFail: true });
  t.equal(peer.code, 0, 'clients reach each other');
  const up = await lan.gw.exec('ping', ['-c1', '-W2', lan.uplink.internet], { allowFail: true });
  t.equal(up.code, 0, 'gateway reaches the Internet namespace');
  const mac = await lan.clients[1]!.exec('cat', ['/sys/class/net/eth0/address']);
  t.equal(mac.stdout.trim(), lan.clients[1]!.mac);
  await lan.destroy();
  const left = await lan.gw.exec('true', [], { allowFail: true });
  t.not(left.code, 0, 'namespaces are gone after destroy');
});
