import t from 'tap';
import { dnsWorkerCount } from '../../src/dns/config.js';

t.test('dns.workers auto leaves a core to the main process', async (t) => {
  t.equal(dnsWorkerCount('auto', 1), 0, 'one core: UDP answered in the main process');
  t.equal(dnsWorkerCount('auto', 2), 1, 'two cores: one worker (each costs a Node process)');
  t.equal(dnsWorkerCount('auto', 8), 7);
  t.equal(dnsWorkerCount(0, 8), 0, 'an explicit number is kept');
  t.equal(dnsWorkerCount(3, 2), 3);
});
