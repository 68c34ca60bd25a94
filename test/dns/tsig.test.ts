import t from 'tap';
import { defaultConfig } from '../../src/config/index.js';
import { answerSlow } from '../../src/dns/answer.js';
import { Flag, RRType, TsigError } from '../../src/dns/constants.js';
import { decodeMessage } from '../../src/dns/decode.js';
import { MessageWriter } from '../../src/dns/encode.js';
import { makePolicy } from '../../src/dns/policy-config.js';
import { compileSnapshot } from '../../src/dns/snapshot.js';
import { keyMap, signMessage, verifyRequest, verifyResponse } from '../../src/dns/tsig.js';
import { buildZones } from '../../src/dns/zone-builder.js';

const secret = Buffer.alloc(32, 9).toString('base64');
const keys = keyMap([{ name: 'Xfr-Key.', algorithm: 'hmac-sha256', secret }]);
const key = keys.get('xfr-key')!;
const NOW = 1_700_000_000;

function request(id = 0x2222, time = NOW): Buffer {
  const w = new MessageWriter();
  w.header(id, 0);
  w.question('prolo', RRType.SOA, 1);
  return signMessage(w.finish(), key, { time }).message;
}

t.test(
  'a signed request verifies; tampering, skew and unknown keys are caught (RFC 8945 §5.2)',
  async (t) => {
    const req = request();
    const d = decodeMessage(req);
    t.ok(d.ok && d.message.tsig, 'TSIG decoded as the last additional record');
    if (!d.ok || !d.message.tsig) return;
    t.equal(d.message.tsig.keyName, 'xfr-key', 'key names compare canonically');
    const ok = verifyRequest(req, d.message.tsig, keys, NOW + 10);
    t.ok(ok.ok);
    const tampered = Buffer.from(req);
    tampered[12 + 1] = 0x51; // first letter of the question name
    const dt = decodeMessage(tampered);
    const bad = dt.ok && dt.message.tsig ? verifyRequest(tampered, dt.message.tsig, keys, NOW) : undefined;
    t.match(bad, { ok: false, error: TsigError.BADSIG });
    t.match(verifyRequest(req, d.message.tsig, keys, NOW + 301), { ok: false, error: TsigError.BADTIME });
    t.match(verifyRequest(req, d.message.tsig, keyMap([]), NOW), { ok: false, error: TsigError.BADKEY });
  },
);

t.test('responses chain MACs; our verifier accepts our own signed answer', async (t) => {
  const req = request(7);
  const d = decodeMessage(req);
  if (!d.ok || !d.message.tsig) throw new Error('no tsig');
  const w = new MessageWriter();
  w.header(7, Flag.QR | Flag.AA);
  w.question('prolo', RRType.SOA, 1);
  const signed = signMessage(w.finish(), key, { requestMac: d.message.tsig.mac, time: NOW });
  const r = decodeMessage(signed.message);
  t.ok(
    r.ok && r.message.tsig && verifyResponse(signed.message, r.message.tsig, key, d.message.tsig.mac, NOW),
  );
  t.notOk(
    r.ok && r.message.tsig && verifyResponse(signed.message, r.message.tsig, key, Buffer.alloc(32), NOW),
    'wrong request MAC',
  );
});

t.test('the policy answers bad signatures with NOTAUTH and the TSIG error', async (t) => {
  const cfg = defaultConfig({ dns: { tsigKeys: [{ name: 'xfr-key', secret }] } });
  const snap = compileSnapshot(
    buildZones({ machines: [], network: cfg.network, dns: cfg.dns }).zones.map((z) => ({ ...z, serial: 1 })),
    1,
  );
  const pol = makePolicy({ dns: cfg.dns, network: cfg.network }, () => NOW);
  const answer = (msg: Buffer) => {
    const o = answerSlow(msg, 0x7f000001, '127.0.0.1', snap, pol, false);
    if (o.kind !== 'reply') throw new Error(o.kind);
    const d = decodeMessage(o.bytes);
    if (!d.ok) throw new Error(d.error);
    return d.message;
  };
  const good = answer(request());
  t.equal(good.rcode, 0);
  t.ok(good.tsig && good.tsig.mac.length === 32, 'signed answer to a signed query');
  const tampered = request();
  tampered[13] = 0x51;
  const bad = answer(tampered);
  t.equal(bad.rcode, 9, 'NOTAUTH');
  t.equal(bad.tsig?.error, TsigError.BADSIG);
  t.equal(bad.tsig?.mac.length, 0, 'BADSIG answers are unsigned');
  const late = answer(request(5, NOW - 1000));
  t.equal(late.tsig?.error, TsigError.BADTIME);
  t.equal(late.tsig?.mac.length, 32, 'BADTIME answers are signed');
});
