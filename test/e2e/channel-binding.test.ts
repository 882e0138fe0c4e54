/**
 * SCRAM-*-PLUS channel binding over real TLS connections: tls-exporter on
 * TLS 1.3 (RFC 9266), tls-unique and tls-server-end-point on TLS 1.2
 * (RFC 5929), each computed independently on the client side; binding data
 * from another connection must fail (that is the point of binding).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import tls from 'node:tls';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { ScramClient, type ChannelBindingType } from '../../src/xmpp/sasl/scram.js';

async function plusSignIn(port: number, maxVersion: tls.SecureVersion, cbType: ChannelBindingType, tamper = false): Promise<{ outcome: string; features: string }> {
  const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion });
  await new Promise((r) => s.once('secureConnect', r));
  assert.equal(s.getProtocol(), maxVersion);
  let cbData: Buffer;
  if (cbType === 'tls-exporter') cbData = s.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  else if (cbType === 'tls-unique') cbData = s.getFinished()!;
  else cbData = createHash('sha256').update(s.getPeerCertificate().raw).digest();
  if (tamper) cbData = Buffer.from(cbData.map((b) => b ^ 0xff));
  let text = '';
  s.on('data', (d: Buffer) => { text += d.toString(); });
  const wait = async (re: RegExp): Promise<RegExpMatchArray> => {
    for (let i = 0; i < 250; i++) { const m = text.match(re); if (m) return m; await new Promise((r) => setTimeout(r, 20)); }
    throw new Error(`${re} not received: ${text}`);
  };
  try {
    s.write("<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
    const [features] = await wait(/<stream:features>[\s\S]*<\/stream:features>/);
    const c = new ScramClient({ hash: 'SHA-256', username: 'alice', password: 'secret', cbType, cbData });
    s.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256-PLUS'>${c.first().toString('base64')}</auth>`);
    const [, challenge] = await wait(/<challenge[^>]*>([^<]+)<\/challenge>/);
    s.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${c.final(Buffer.from(challenge, 'base64')).toString('base64')}</response>`);
    const m = await wait(/<(success|failure)[^>]*>/);
    return { outcome: m[1], features };
  } finally {
    s.destroy();
  }
}

describe('SCRAM channel binding over TLS 1.2 and 1.3', function () {
  this.timeout(20000);
  let node: TestNode;
  before(async () => { node = await startTestNode('memory'); await node.addUser('alice', 'secret'); });
  after(async () => { await node.stop(); });

  const cases: Array<[tls.SecureVersion, ChannelBindingType]> = [
    ['TLSv1.3', 'tls-exporter'], ['TLSv1.3', 'tls-server-end-point'],
    ['TLSv1.2', 'tls-unique'], ['TLSv1.2', 'tls-server-end-point'],
  ];
  for (const [version, cbType] of cases) {
    it(`binds with ${cbType} on ${version}, and refuses binding data that is not this connection's`, async () => {
      const good = await plusSignIn(node.ports.xmpps, version, cbType);
      assert.equal(good.outcome, 'success');
      assert.match(good.features, new RegExp(`<channel-binding type="${cbType}"/>`), 'advertised (XEP-0440)');
      const bad = await plusSignIn(node.ports.xmpps, version, cbType, true);
      assert.equal(bad.outcome, 'failure');
    });
  }

  it('does not offer tls-unique on TLS 1.3, where it is undefined (RFC 9266)', async () => {
    const r = await plusSignIn(node.ports.xmpps, 'TLSv1.3', 'tls-exporter');
    assert.doesNotMatch(r.features, /tls-unique/);
  });
});
