/**
 * End-to-end: real clients over real sockets against a real node, once per
 * store (memory, embedded SQLite, Redis). Scenarios read as "alice sends …,
 * bob receives …".
 */
import assert from 'node:assert/strict';
import { STORE_KINDS, startTestNode, type TestNode } from '../helpers/node.js';
import { RawClient, collect, connect, makeClient, nextStanza, sleep, stopAll, xml, type Client, type Element, type Mechanism } from '../helpers/xmpp.js';

const MECHANISMS: Mechanism[] = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'];

let seq = 0;
const uniq = (name: string): string => `${name}${++seq}`;

for (const kind of STORE_KINDS) {
  describe(`XMPP end to end on the ${kind} store`, function () {
    this.timeout(30000);
    let node: TestNode;
    let clients: Client[] = [];
    let raws: RawClient[] = [];
    const port = (): number => node.ports.xmpp;
    const tlsPort = (): number => node.ports.xmpps;
    const user = async (name: string, password = 'secret', fields = {}): Promise<string> => {
      const id = uniq(name);
      await node.addUser(id, password, fields);
      return id;
    };
    const online = async (username: string, opts: { resource?: string; presence?: boolean; priority?: number } = {}): Promise<Client> => {
      const c = await connect({ port: port(), username, password: 'secret', resource: opts.resource, presence: false });
      clients.push(c);
      if (opts.presence !== false) {
        await c.send(opts.priority === undefined ? xml('presence') : xml('presence', {}, xml('priority', {}, String(opts.priority))));
        // The server echoes initial presence to the user's own resources (RFC 6121 §4.2.2): wait for ours.
        await nextStanza(c, (s) => s.is('presence') && s.attrs.from === c.jid?.toString());
      }
      return c;
    };
    const raw = async (direct = false): Promise<RawClient> => {
      const r = await RawClient.connect(direct ? tlsPort() : port(), direct);
      raws.push(r);
      return r;
    };

    before(async () => { node = await startTestNode(kind, ['--max-stanza-size', '20000', '--idle-timeout', '1', '--ping-timeout', '1']); });
    after(async () => { await node.stop(); });
    afterEach(async () => {
      await stopAll(...clients);
      for (const r of raws) r.close();
      clients = []; raws = [];
    });

    describe('sign-in', () => {
      for (const direct of [false, true]) {
        for (const mechanism of MECHANISMS) {
          it(`signs alice in with ${mechanism} over ${direct ? 'direct TLS' : 'STARTTLS'}`, async () => {
            const alice = await user('alice');
            const c = makeClient({ port: direct ? tlsPort() : port(), username: alice, password: 'secret', mechanism, directTls: direct, resource: 'laptop' });
            clients.push(c);
            const jid = await c.start();
            assert.equal(jid.toString(), `${alice}@localhost/laptop`);
          });
        }
      }

      it('refuses a wrong password with not-authorized', async () => {
        const alice = await user('alice');
        const c = makeClient({ port: port(), username: alice, password: 'wrong' });
        clients.push(c);
        await assert.rejects(c.start(), (e: Error & { condition?: string }) => e.condition === 'not-authorized');
      });

      it('refuses an unknown user with not-authorized, as it would a wrong password', async () => {
        const c = makeClient({ port: port(), username: 'nobody-here', password: 'secret', mechanism: 'SCRAM-SHA-256' });
        clients.push(c);
        await assert.rejects(c.start(), (e: Error & { condition?: string }) => e.condition === 'not-authorized');
      });

      it('refuses a user without IM and Presence, or without home cluster, with account-disabled', async () => {
        for (const fields of [{ imPresenceEnabled: false }, { homeCluster: false }]) {
          const carol = await user('carol', 'secret', fields);
          const c = makeClient({ port: port(), username: carol, password: 'secret', mechanism: 'PLAIN' });
          clients.push(c);
          await assert.rejects(c.start(), (e: Error & { condition?: string }) => e.condition === 'account-disabled');
        }
      });

      it('closes the connection after repeated failures', async () => {
        const alice = await user('alice');
        const r = await raw(true);
        r.openStream();
        await r.waitFor(/<\/stream:features>/);
        const bad = Buffer.from(`\0${alice}\0wrong`).toString('base64');
        for (let i = 0; i < 5; i++) r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${bad}</auth>`);
        await r.waitFor(/<stream:error><policy-violation/);
        assert.equal((r.text.match(/<not-authorized\/>/g) ?? []).length, 5);
        await r.waitClosed();
      });

      it('offers no SASL before STARTTLS, and refuses it', async () => {
        const r = await raw();
        r.openStream();
        const [features] = await r.waitFor(/<stream:features>.*<\/stream:features>/);
        assert.match(features, /<starttls[^>]*><required\/><\/starttls>/);
        assert.doesNotMatch(features, /mechanisms/);
        r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0a\0b').toString('base64')}</auth>`);
        await r.waitFor(/<stream:error><policy-violation/);
        await r.waitClosed();
      });

      it('answers a mechanism it does not offer with invalid-mechanism', async () => {
        const r = await raw(true);
        r.openStream();
        await r.waitFor(/<\/stream:features>/);
        r.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>");
        await r.waitFor(/<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><invalid-mechanism\/>/);
      });

      it('gives a server-generated resource when the client asks for none', async () => {
        const alice = await user('alice');
        const r = await raw(true);
        r.openStream();
        await r.waitFor(/<\/stream:features>/);
        r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${alice}\0secret`).toString('base64')}</auth>`);
        await r.waitFor(/<success/);
        r.openStream();
        await r.waitFor(/<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"\/>.*<\/stream:features>/);
        r.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
        const [, full] = await r.waitFor(/<jid>([^<]+)<\/jid>/);
        assert.match(full, new RegExp(`^${alice}@localhost/imp-[0-9a-f]{12}$`));
        r.send("<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
        await r.waitFor(/<iq type="result" id="s"/);
      });

      it('replaces a session that bound the same resource; the old one gets conflict', async () => {
        const alice = await user('alice');
        const first = await raw(true);
        await first.login(alice, 'secret', 'phone');
        const second = await online(alice, { resource: 'phone' });
        await first.waitFor(/<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
        await first.waitClosed();
        // The new session is the one that receives from now on.
        const bob = await user('bob');
        const b = await online(bob);
        const got = nextStanza(second, (s) => s.is('message'));
        await b.send(xml('message', { to: `${alice}@localhost/phone`, type: 'chat' }, xml('body', {}, 'still there?')));
        assert.equal((await got).getChildText('body'), 'still there?');
      });
    });

    describe('messages', () => {
      it('alice sends bob a chat to his bare JID and bob receives it from her full JID', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const a = await online(alice, { resource: 'desk' });
        const b = await online(bob);
        const got = nextStanza(b, (s) => s.is('message'));
        await a.send(xml('message', { to: `${bob}@localhost`, type: 'chat', id: 'm1' }, xml('body', {}, 'hello bob — 日本語 ✓')));
        const m = await got;
        assert.equal(m.attrs.from, `${alice}@localhost/desk`);
        assert.equal(m.getChildText('body'), 'hello bob — 日本語 ✓');
        assert.equal(m.attrs.id, 'm1');
      });

      it('a message to a full JID reaches that resource only', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const a = await online(alice);
        const b1 = await online(bob, { resource: 'one' });
        const b2 = await online(bob, { resource: 'two' });
        const seen2 = collect(b2);
        const got = nextStanza(b1, (s) => s.is('message'));
        await a.send(xml('message', { to: `${bob}@localhost/one`, type: 'chat' }, xml('body', {}, 'just one')));
        await got;
        await sleep(200);
        assert.equal(seen2.filter((s) => s.is('message')).length, 0);
      });

      it('two resources of one user message each other', async () => {
        const alice = await user('alice');
        const phone = await online(alice, { resource: 'phone' });
        const desk = await online(alice, { resource: 'desk' });
        const got = nextStanza(desk, (s) => s.is('message'));
        await phone.send(xml('message', { to: `${alice}@localhost/desk`, type: 'chat' }, xml('body', {}, 'note to self')));
        const m = await got;
        assert.equal(m.attrs.from, `${alice}@localhost/phone`);
      });

      it('to a bare JID: normal goes to the highest priority, chat to every non-negative resource (RFC 6121 §8.5.2)', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const a = await online(alice);
        const high = await online(bob, { resource: 'high', priority: 5 });
        const low = await online(bob, { resource: 'low', priority: 1 });
        const neg = await online(bob, { resource: 'neg', priority: -1 });
        const [h, l, n] = [collect(high), collect(low), collect(neg)];
        await a.send(xml('message', { to: `${bob}@localhost`, type: 'normal' }, xml('body', {}, 'normal')));
        await a.send(xml('message', { to: `${bob}@localhost`, type: 'chat' }, xml('body', {}, 'chat')));
        await nextStanza(low, (s) => s.getChildText('body') === 'chat');
        await sleep(200);
        const bodies = (list: typeof h): string[] => list.filter((s) => s.is('message')).map((s) => s.getChildText('body') ?? '');
        assert.deepEqual(bodies(h), ['normal', 'chat']);
        assert.deepEqual(bodies(l), ['chat']);
        assert.deepEqual(bodies(n), []);
      });

      it('a message to a user who does not exist gets service-unavailable, and an error is never answered', async () => {
        const alice = await user('alice');
        const a = await online(alice);
        const seen = collect(a);
        const err = nextStanza(a, (s) => s.is('message') && s.attrs.type === 'error');
        await a.send(xml('message', { to: 'ghost@localhost', type: 'chat', id: 'x' }, xml('body', {}, 'anyone?')));
        const e = await err;
        assert.equal(e.attrs.id, 'x');
        assert.ok(e.getChild('error')?.getChild('service-unavailable'));
        await a.send(xml('message', { to: 'ghost@localhost', type: 'error', id: 'y' }, xml('body', {}, 'err')));
        await sleep(300);
        assert.equal(seen.filter((s) => s.attrs.id === 'y').length, 0);
      });

      it('a message to an offline user is stored and delivered, stamped, at their next available presence', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const a = await online(alice);
        await a.send(xml('message', { to: `${bob}@localhost`, type: 'chat' }, xml('body', {}, 'first')));
        await a.send(xml('message', { to: `${bob}@localhost/gone`, type: 'normal' }, xml('body', {}, 'second')));
        await a.send(xml('message', { to: `${bob}@localhost`, type: 'headline' }, xml('body', {}, 'not kept')));
        await sleep(300);
        assert.equal(await node.store.offline.count(bob), 2);
        const b = await online(bob, { presence: false });
        const got: string[] = [];
        const done = new Promise<void>((resolve) => b.on('stanza', (s: Element) => {
          if (!s.is('message')) return;
          assert.ok(s.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp, 'offline messages carry a delay stamp');
          got.push(s.getChildText('body') ?? '');
          if (got.length === 2) resolve();
        }));
        await b.send(xml('presence'));
        await done;
        assert.deepEqual(got, ['first', 'second']);
        await sleep(200);
        assert.equal(await node.store.offline.count(bob), 0, 'delivered messages are removed from the store');
      });

      it('carbons: alice\'s other device sees what she sent and what she received (XEP-0280)', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const phone = await online(alice, { resource: 'phone' });
        const desk = await online(alice, { resource: 'desk' });
        const b = await online(bob);
        for (const c of [phone, desk]) await c.iqCaller.set(xml('enable', { xmlns: 'urn:xmpp:carbons:2' }));
        const sent = nextStanza(desk, (s) => !!s.getChild('sent', 'urn:xmpp:carbons:2'));
        await phone.send(xml('message', { to: `${bob}@localhost`, type: 'chat' }, xml('body', {}, 'from my phone')));
        const carbon = await sent;
        assert.equal(carbon.attrs.from, `${alice}@localhost`);
        const inner = carbon.getChild('sent')!.getChild('forwarded', 'urn:xmpp:forward:0')!.getChild('message')!;
        assert.equal(inner.getChildText('body'), 'from my phone');
        const received = nextStanza(desk, (s) => !!s.getChild('received', 'urn:xmpp:carbons:2'));
        await b.send(xml('message', { to: `${alice}@localhost/phone`, type: 'chat' }, xml('body', {}, 'to your phone')));
        const rc = await received;
        assert.equal(rc.getChild('received')!.getChild('forwarded')!.getChild('message')!.getChildText('body'), 'to your phone');
        // A private message is not copied.
        const seen = collect(desk);
        await phone.send(xml('message', { to: `${bob}@localhost`, type: 'chat' }, xml('body', {}, 'secret'), xml('private', { xmlns: 'urn:xmpp:carbons:2' })));
        await nextStanza(b, (s) => s.getChildText('body') === 'secret');
        await sleep(200);
        assert.equal(seen.length, 0);
      });
    });

    describe('iq', () => {
      it('answers disco#info, disco#items, ping and version for the server, and disco for an account', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const a = await online(alice);
        const info = await a.iqCaller.get(xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), 'localhost');
        const features = info.getChildren('feature').map((f) => f.attrs.var);
        assert.ok(features.includes('urn:xmpp:ping') && features.includes('urn:xmpp:carbons:2'));
        assert.equal(info.getChild('identity')?.attrs.category, 'server');
        await a.iqCaller.get(xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' }), 'localhost');
        await a.iqCaller.get(xml('ping', { xmlns: 'urn:xmpp:ping' }), 'localhost');
        const ver = await a.iqCaller.get(xml('query', { xmlns: 'jabber:iq:version' }), 'localhost');
        assert.equal(ver.getChildText('name'), 'imp');
        const acct = await a.iqCaller.get(xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), `${bob}@localhost`);
        assert.equal(acct.getChild('identity')?.attrs.category, 'account');
      });

      it('answers every get/set it does not handle with an error, never silence', async () => {
        const alice = await user('alice');
        const a = await online(alice);
        await assert.rejects(a.iqCaller.get(xml('query', { xmlns: 'urn:example:unknown' }), 'localhost'), (e: Error & { condition?: string }) => e.condition === 'service-unavailable');
        await assert.rejects(a.iqCaller.set(xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), 'localhost'), (e: Error & { condition?: string }) => e.condition === 'feature-not-implemented');
        await assert.rejects(a.iqCaller.get(xml('query', { xmlns: 'urn:example:unknown' }), `${alice}@localhost/nowhere`), (e: Error & { condition?: string }) => e.condition === 'service-unavailable');
        await assert.rejects(a.iqCaller.get(xml('query', { xmlns: 'urn:example:unknown' }), 'ghost@localhost'), (e: Error & { condition?: string }) => e.condition === 'service-unavailable');
      });

      it('routes an iq between two clients and its answer back', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const a = await online(alice);
        const b = await online(bob, { resource: 'r' });
        b.iqCallee.get('urn:example:echo', 'q', () => xml('q', { xmlns: 'urn:example:echo' }, 'pong'));
        const res = await a.iqCaller.get(xml('q', { xmlns: 'urn:example:echo' }), `${bob}@localhost/r`);
        assert.equal(res.text(), 'pong');
      });
    });

    describe('stream errors and bad input', () => {
      const afterLogin = async (): Promise<RawClient> => {
        const r = await raw(true);
        await r.login(await user('mallory'), 'secret');
        return r;
      };

      it('malformed XML gets not-well-formed, and other sessions carry on', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const a = await online(alice);
        const b = await online(bob);
        const r = await afterLogin();
        r.send('<message><body>unclosed</message>');
        await r.waitFor(/<stream:error><not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>.*<\/stream:stream>/);
        await r.waitClosed();
        const got = nextStanza(b, (s) => s.is('message'));
        await a.send(xml('message', { to: `${bob}@localhost`, type: 'chat' }, xml('body', {}, 'unaffected')));
        assert.equal((await got).getChildText('body'), 'unaffected');
      });

      it('a DTD, an entity declaration, a comment or a processing instruction gets restricted-xml', async () => {
        for (const evil of ['<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', '<message><body>&xxe;</body></message>', '<!-- hi -->', '<?php x ?>']) {
          const r = await afterLogin();
          r.send(evil);
          await r.waitFor(/<stream:error><restricted-xml/);
          await r.waitClosed();
          assert.doesNotMatch(r.text, /root:/);
        }
      });

      it('an oversized stanza gets policy-violation', async () => {
        const r = await afterLogin();
        r.send(`<message to='x@localhost'><body>${'a'.repeat(30000)}</body></message>`);
        await r.waitFor(/<stream:error><policy-violation/);
        await r.waitClosed();
      });

      it('a quiet client is pinged and, when it does not answer, dropped with connection-timeout', async () => {
        const alice = await user('alice');
        const r = await afterLogin();
        const polite = await online(alice); // @xmpp/client answers pings
        await r.waitFor(/<iq type="get" id="ping-[0-9a-f]+"[^>]*><ping xmlns="urn:xmpp:ping"\/><\/iq>/, 4000);
        await r.waitFor(/<stream:error><connection-timeout/, 4000);
        await r.waitClosed();
        await sleep(500);
        assert.equal(polite.status, 'online');
      });

      it('answers </stream:stream> with a clean close', async () => {
        const r = await afterLogin();
        r.send('</stream:stream>');
        await r.waitFor(/<\/stream:stream>/);
        await r.waitClosed();
        assert.doesNotMatch(r.text, /stream:error/);
      });

      it('refuses an unknown host, a wrong namespace and a wrong version', async () => {
        const cases: Array<[string, RegExp]> = [
          ["<stream:stream to='elsewhere.example' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", /<host-unknown/],
          ["<stream:stream to='localhost' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", /<invalid-namespace/],
          ["<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='urn:wrong' version='1.0'>", /<invalid-namespace/],
          ["<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='2.0'>", /<unsupported-version/],
        ];
        for (const [header, expected] of cases) {
          const r = await raw();
          r.send(header);
          await r.waitFor(expected);
          assert.match(r.text, /^<\?xml version='1.0'\?><stream:stream /, 'our stream header precedes the error');
          await r.waitClosed();
        }
      });

      it('refuses a non-stanza element, a foreign namespace, an empty address and a forged from', async () => {
        const cases: Array<[string, RegExp]> = [
          ['<foo/>', /<unsupported-stanza-type/],
          ["<message xmlns='jabber:server' to='a@localhost'/>", /<invalid-namespace/],
          ["<message to=''><body>x</body></message>", /<improper-addressing/],
          ["<message from='someone@localhost/x' to='a@localhost'><body>x</body></message>", /<invalid-from/],
        ];
        for (const [stanza, expected] of cases) {
          const r = await afterLogin();
          r.send(stanza);
          await r.waitFor(expected);
          await r.waitClosed();
        }
      });

      it('answers a malformed address and a bad iq with stanza errors, keeping the stream', async () => {
        const r = await afterLogin();
        r.send("<message to='a@b@localhost' id='j'><body>x</body></message>");
        await r.waitFor(/id="j"[^>]*>.*<jid-malformed/);
        r.send("<iq type='get' id='k'/>");
        await r.waitFor(/id="k".*<bad-request/);
        r.send("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        await r.waitFor(/<iq type="result" id="p"/);
        assert.equal(r.closed, false);
      });
    });
  });
}
