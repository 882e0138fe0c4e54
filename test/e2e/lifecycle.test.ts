/**
 * Session and node lifecycle corner cases: nothing lost while a session
 * closes, clean shutdown unregisters everything, restarts owe a header,
 * replaced sessions stay quiet, offline delivery waits for a non-negative
 * priority, SCRAM starts afresh after an abort.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { RedisStore } from '../../src/store/redis.js';
import { ScramClient } from '../../src/xmpp/sasl/scram.js';
import { freshPrefix, testRedisUrl } from '../helpers/redis-server.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { RawClient, collect, connect, nextStanza, sleep, stopAll, xml, type Client } from '../helpers/xmpp.js';

describe('session and node lifecycle', function () {
  this.timeout(30000);
  let node: TestNode;
  let clients: Client[] = [];
  let raws: RawClient[] = [];
  let n = 0;
  const user = async (name: string): Promise<string> => { const id = `${name}${++n}`; await node.addUser(id, 'secret'); return id; };
  const raw = async (): Promise<RawClient> => { const r = await RawClient.connect(node.ports.xmpps, true); raws.push(r); return r; };
  const online = async (u: string, resource?: string): Promise<Client> => {
    const c = await connect({ port: node.ports.xmpp, username: u, password: 'secret', resource });
    clients.push(c);
    return c;
  };

  before(async () => { node = await startTestNode('redis'); });
  after(async () => { await node.stop(); });
  afterEach(async () => { await stopAll(...clients); for (const r of raws) r.close(); clients = []; raws = []; });

  it('loses no message sent while the recipient closes its stream: each is delivered, stored or refused', async () => {
    const [alice, bob] = [await user('alice'), await user('bob')];
    const a = await online(alice);
    const errors = collect(a);
    const b = await raw();
    await b.login(bob, 'secret', 'only');
    b.send('<presence/>');
    await b.waitFor(/<presence/);
    const total = 40;
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < total; i++) {
      sends.push(a.send(xml('message', { to: `${bob}@localhost/only`, type: 'chat', id: `m${i}` }, xml('body', {}, `n${i}`))));
      if (i === 10) b.send('</stream:stream>');
    }
    await Promise.all(sends);
    await b.waitClosed();
    await sleep(500);
    const received = new Set([...b.text.matchAll(/<body>n(\d+)<\/body>/g)].map((m) => Number(m[1])));
    const stored = new Set((await node.store.offline.list(bob)).map((m) => Number(/<body>n(\d+)</.exec(m.stanza)![1])));
    const refused = new Set(errors.filter((s) => s.attrs.type === 'error').map((s) => Number(s.attrs.id.slice(1))));
    for (let i = 0; i < total; i++) assert.ok(received.has(i) || stored.has(i) || refused.has(i), `message ${i} vanished`);
  });

  it('does not send a replaced session\'s unavailable presence to its successor', async () => {
    const alice = await user('alice');
    const old = await raw();
    await old.login(alice, 'secret', 'same');
    old.send('<presence/>');
    await old.waitFor(/<presence/);
    const fresh = await raw();
    await fresh.login(alice, 'secret', 'same');
    await old.waitClosed();
    await sleep(300);
    assert.doesNotMatch(fresh.text, /type="unavailable"/);
    assert.equal((await node.store.sessions.listByUser(alice)).length, 1, 'the successor stays registered');
  });

  it('delivers offline messages at the first available presence with a non-negative priority', async () => {
    const [alice, bob] = [await user('alice'), await user('bob')];
    const a = await online(alice);
    await a.send(xml('message', { to: `${bob}@localhost`, type: 'chat' }, xml('body', {}, 'waiting')));
    await sleep(200);
    const b = await connect({ port: node.ports.xmpp, username: bob, password: 'secret', presence: false });
    clients.push(b);
    const got = collect(b);
    await b.send(xml('presence', {}, xml('priority', {}, '-1')));
    await sleep(300);
    assert.equal(got.filter((s) => s.is('message')).length, 0, 'not at a negative priority');
    const msg = nextStanza(b, (s) => s.is('message'));
    await b.send(xml('presence', {}, xml('priority', {}, '5')));
    assert.equal((await msg).getChildText('body'), 'waiting');
  });

  it('refuses a malformed priority', async () => {
    const alice = await user('alice');
    const a = await online(alice);
    const err = nextStanza(a, (s) => s.is('presence') && s.attrs.type === 'error');
    await a.send(xml('presence', {}, xml('priority', {}, '0x10')));
    assert.ok((await err).getChild('error')?.getChild('bad-request'));
  });

  it('routes a message without "to" to the sender\'s own bare JID (RFC 6120 §10.3.1)', async () => {
    const alice = await user('alice');
    const desk = await online(alice, 'desk');
    const phone = await online(alice, 'phone');
    const got = nextStanza(desk, (s) => s.is('message'));
    await phone.send(xml('message', { type: 'chat' }, xml('body', {}, 'to myself')));
    assert.equal((await got).getChildText('body'), 'to myself');
  });

  it('starts SCRAM afresh after an abort', async () => {
    const alice = await user('alice');
    const r = await raw();
    r.openStream();
    await r.waitFor(/<\/stream:features>/);
    const first = new ScramClient({ hash: 'SHA-256', username: alice, password: 'secret' });
    r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${first.first().toString('base64')}</auth>`);
    await r.waitFor(/<challenge/);
    r.send("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    await r.waitFor(/<aborted\/>/);
    r.text = '';
    const second = new ScramClient({ hash: 'SHA-256', username: alice, password: 'secret' });
    r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${second.first().toString('base64')}</auth>`);
    const [, challenge] = await r.waitFor(/<challenge[^>]*>([^<]+)<\/challenge>/);
    r.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${second.final(Buffer.from(challenge, 'base64')).toString('base64')}</response>`);
    await r.waitFor(/<success/);
  });

  it('sends a fresh stream header before an error on a restarted stream', async () => {
    const alice = await user('alice');
    const r = await raw();
    r.openStream();
    await r.waitFor(/<\/stream:features>/);
    r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${alice}\0secret`).toString('base64')}</auth>`);
    await r.waitFor(/<success/);
    r.text = '';
    r.send("<stream:stream to='elsewhere.example' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
    await r.waitFor(/<host-unknown/);
    assert.match(r.text, /^<\?xml version='1.0'\?><stream:stream [^>]*><stream:error>/);
  });

  it('keeps no raw socket after STARTTLS sessions end', async () => {
    const alice = await user('alice');
    for (let i = 0; i < 5; i++) await (await connect({ port: node.ports.xmpp, username: alice, password: 'secret', resource: `r${i}` })).stop();
    await sleep(300);
    assert.equal(node.xmpp.openSockets, 0);
  });
});

describe('node start and shutdown', function () {
  this.timeout(30000);

  it('unregisters every session of the node at a clean shutdown', async () => {
    const prefix = freshPrefix('shutdown');
    const node = await startTestNode('redis', [], { prefix });
    for (const u of ['a', 'b', 'c']) await node.addUser(u, 'secret');
    const cs = await Promise.all(['a', 'b', 'c'].map((u) => connect({ port: node.ports.xmpp, username: u, password: 'secret' })));
    await node.stop();
    const store = await RedisStore.open({ url: testRedisUrl(), prefix });
    try {
      assert.deepEqual(await store.sessions.listByNode(node.config.nodeId), []);
      assert.deepEqual(await store.sessions.listByUser('a'), []);
    } finally {
      await store.close();
      await stopAll(...cs);
    }
  });

  it('shuts down although a client sits in a TLS handshake', async () => {
    const node = await startTestNode('memory');
    const idle = net.connect(node.ports.xmpps, '127.0.0.1');
    await new Promise((r) => idle.once('connect', r));
    idle.on('error', () => {});
    await node.stop(); // would wait for the handshake timeout if the half-open socket were not closed
    idle.destroy();
  });

  it('releases what it opened when a listener cannot bind', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const busy = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(startTestNode('memory', ['--xmpps-port', String(busy)]), /EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });
});
