/**
 * Rosters, subscriptions and presence between real clients (RFC 6121 §2–§4,
 * XEP-0191), on every store: alice adds bob, they approve each other, see
 * each other's presence change and go offline; roster versioning; limits;
 * blocking.
 */
import assert from 'node:assert/strict';
import { STORE_KINDS, startTestNode, type TestNode } from '../helpers/node.js';
import { collect, connect, nextStanza, sleep, stopAll, xml, type Client, type Element } from '../helpers/xmpp.js';

const NS_ROSTER = 'jabber:iq:roster';

for (const kind of STORE_KINDS) {
  describe(`rosters and presence on the ${kind} store`, function () {
    this.timeout(30000);
    let node: TestNode;
    let clients: Client[] = [];
    let n = 0;
    const user = async (name: string): Promise<string> => { const id = `${name}${++n}`; await node.addUser(id, 'secret'); return id; };
    const online = async (u: string, opts: { resource?: string; presence?: boolean } = {}): Promise<Client> => {
      const c = await connect({ port: node.ports.xmpp, username: u, password: 'secret', resource: opts.resource, presence: false });
      clients.push(c);
      await c.iqCaller.get(xml('query', { xmlns: NS_ROSTER })); // an interested resource
      if (opts.presence !== false) {
        const own = nextStanza(c, (s) => s.is('presence') && s.attrs.from === c.jid?.toString());
        await c.send(xml('presence'));
        await own;
      }
      return c;
    };
    const push = (c: Client, jid: string, pred: (item: Element) => boolean = () => true): Promise<Element> =>
      nextStanza(c, (s) => s.is('iq') && s.attrs.type === 'set' && !!s.getChild('query', NS_ROSTER)?.getChildren('item').some((i) => i.attrs.jid === jid && pred(i)))
        .then((s) => s.getChild('query', NS_ROSTER)!.getChildren('item').find((i) => i.attrs.jid === jid)!);
    const presenceFrom = (c: Client, from: string, type?: string): Promise<Element> =>
      nextStanza(c, (s) => s.is('presence') && (s.attrs.from ?? '').startsWith(from) && s.attrs.type === type);
    /** alice and bob subscribe to each other (both), each approving the other's request. */
    const befriend = async (a: Client, alice: string, b: Client, bob: string): Promise<void> => {
      const req = presenceFrom(b, `${alice}@localhost`, 'subscribe');
      await a.send(xml('presence', { to: `${bob}@localhost`, type: 'subscribe' }));
      await req;
      const aSeesB = presenceFrom(a, `${bob}@localhost/`);
      await b.send(xml('presence', { to: `${alice}@localhost`, type: 'subscribed' }));
      await aSeesB;
      const req2 = presenceFrom(a, `${bob}@localhost`, 'subscribe');
      await b.send(xml('presence', { to: `${alice}@localhost`, type: 'subscribe' }));
      await req2;
      const bSeesA = presenceFrom(b, `${alice}@localhost/`);
      await a.send(xml('presence', { to: `${bob}@localhost`, type: 'subscribed' }));
      await bSeesA;
    };

    before(async () => { node = await startTestNode(kind, ['--max-contacts', '3', '--max-watchers', '2']); });
    after(async () => { await node.stop(); });
    afterEach(async () => { await stopAll(...clients); clients = []; });

    it('alice adds bob with a name and groups; the roster keeps one item, versioned', async () => {
      const alice = await user('alice');
      const a = await online(alice);
      const p = push(a, 'bob@localhost');
      await a.iqCaller.set(xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: 'bob@localhost', name: 'Bob' }, xml('group', {}, 'Friends'), xml('group', {}, 'Work'))));
      const item = await p;
      assert.equal(item.attrs.subscription, 'none');
      const r1 = await a.iqCaller.get(xml('query', { xmlns: NS_ROSTER }));
      const items = r1.getChildren('item');
      assert.equal(items.length, 1);
      assert.deepEqual(items[0].getChildren('group').map((g) => g.text()), ['Friends', 'Work']);
      // XEP-0237: the current version gets an empty result.
      const same = await a.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_ROSTER, ver: r1.attrs.ver })));
      assert.equal(same.getChild('query'), undefined);
      const older = await a.iqCaller.get(xml('query', { xmlns: NS_ROSTER, ver: '0' }));
      assert.equal(older.getChildren('item').length, 1);
      // Remove: pushed as subscription="remove".
      const gone = push(a, 'bob@localhost', (i) => i.attrs.subscription === 'remove');
      await a.iqCaller.set(xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: 'bob@localhost', subscription: 'remove' })));
      await gone;
      assert.equal((await a.iqCaller.get(xml('query', { xmlns: NS_ROSTER }))).getChildren('item').length, 0);
    });

    it('refuses bad roster sets with the right errors', async () => {
      const alice = await user('alice');
      const a = await online(alice);
      const set = (...children: Element[]): Promise<unknown> => a.iqCaller.set(xml('query', { xmlns: NS_ROSTER }, ...children));
      const cond = (c: string) => (e: Error & { condition?: string }) => e.condition === c;
      await assert.rejects(set(), cond('bad-request'));
      await assert.rejects(set(xml('item', { jid: 'x@localhost' }), xml('item', { jid: 'y@localhost' })), cond('bad-request'));
      await assert.rejects(set(xml('item', { jid: 'a@b@c' })), cond('bad-request'));
      await assert.rejects(set(xml('item', { jid: 'x@localhost' }, xml('group', {}, ''))), cond('not-acceptable'));
      await assert.rejects(set(xml('item', { jid: 'x@localhost' }, xml('group', {}, 'g'), xml('group', {}, 'g'))), cond('bad-request'));
      await assert.rejects(set(xml('item', { jid: 'nobody@localhost', subscription: 'remove' })), cond('item-not-found'));
    });

    it('alice and bob subscribe to each other and see presence changes and logout', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const a = await online(alice, { resource: 'laptop' });
      const b = await online(bob, { resource: 'phone' });
      const aPush = push(a, `${bob}@localhost`, (i) => i.attrs.ask === 'subscribe');
      const bReq = presenceFrom(b, `${alice}@localhost`, 'subscribe');
      await a.send(xml('presence', { to: `${bob}@localhost`, type: 'subscribe' }));
      await aPush;
      await bReq;
      // bob approves: alice's item becomes "to", bob's "from", and alice gets bob's presence.
      const aTo = push(a, `${bob}@localhost`, (i) => i.attrs.subscription === 'to');
      const bFrom = push(b, `${alice}@localhost`, (i) => i.attrs.subscription === 'from');
      const aSeesB = presenceFrom(a, `${bob}@localhost/phone`);
      await b.send(xml('presence', { to: `${alice}@localhost`, type: 'subscribed' }));
      await Promise.all([aTo, bFrom, aSeesB]);
      // Mutual.
      const bBoth = push(b, `${alice}@localhost`, (i) => i.attrs.subscription === 'both');
      await b.send(xml('presence', { to: `${alice}@localhost`, type: 'subscribe' }));
      await presenceFrom(a, `${bob}@localhost`, 'subscribe');
      const bSeesA = presenceFrom(b, `${alice}@localhost/laptop`);
      await a.send(xml('presence', { to: `${bob}@localhost`, type: 'subscribed' }));
      await Promise.all([bBoth, bSeesA]);
      // A change of presence reaches the contact, once.
      const seen = collect(b);
      const away = nextStanza(b, (s) => s.is('presence') && s.getChildText('show') === 'away');
      await a.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'lunch')));
      assert.equal((await away).getChildText('status'), 'lunch');
      // Logout: bob gets alice's unavailable.
      const gone = presenceFrom(b, `${alice}@localhost/laptop`, 'unavailable');
      await a.stop();
      await gone;
      await sleep(200);
      assert.equal(seen.filter((s) => s.is('presence') && s.attrs.from === `${alice}@localhost/laptop` && s.getChildText('show') === 'away').length, 1);
      // Alice back: her initial presence probes bob, and she sees him again.
      const a2 = await connect({ port: node.ports.xmpp, username: alice, password: 'secret', resource: 'laptop', presence: false });
      clients.push(a2);
      const again = presenceFrom(a2, `${bob}@localhost/phone`);
      const bSees = presenceFrom(b, `${alice}@localhost/laptop`);
      await a2.send(xml('presence'));
      await Promise.all([again, bSees]);
    });

    it('a subscription request to an offline user is delivered when they come online', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const a = await online(alice);
      await a.send(xml('presence', { to: `${bob}@localhost`, type: 'subscribe' }));
      await sleep(300);
      const b = await connect({ port: node.ports.xmpp, username: bob, password: 'secret', presence: false });
      clients.push(b);
      const req = presenceFrom(b, `${alice}@localhost`, 'subscribe');
      await b.send(xml('presence'));
      await req;
    });

    it('pre-approval: bob approves before alice asks, and her request is granted at once (RFC 6121 §3.4)', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const a = await online(alice);
      const b = await online(bob);
      await b.send(xml('presence', { to: `${alice}@localhost`, type: 'subscribed' }));
      await push(b, `${alice}@localhost`, (i) => i.attrs.approved === 'true');
      const got = collect(b);
      const aTo = push(a, `${bob}@localhost`, (i) => i.attrs.subscription === 'to');
      await a.send(xml('presence', { to: `${bob}@localhost`, type: 'subscribe' }));
      await aTo;
      await sleep(200);
      assert.equal(got.filter((s) => s.is('presence') && s.attrs.type === 'subscribe').length, 0, 'no request shown to bob');
    });

    it('refuses to pass the contact and watcher limits, naming them', async () => {
      const alice = await user('alice');
      const a = await online(alice);
      for (let i = 0; i < 3; i++) await a.iqCaller.set(xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: `c${i}@localhost` })));
      await assert.rejects(a.iqCaller.set(xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: 'c3@localhost' }))),
        (e: Error & { condition?: string; text?: string }) => e.condition === 'resource-constraint' && /max-contacts/.test(String(e.text ?? e.message)));
      // bob has 2 watchers already (and 2 contacts); a 3rd approval passes the watcher limit first.
      const bob = await user('bob');
      const b = await online(bob);
      for (let i = 0; i < 2; i++) {
        const w = await user('w');
        const wc = await online(w);
        await befriendOneWay(wc, w, b, bob);
      }
      const dave = await user('dave');
      const d = await online(dave);
      const req = presenceFrom(b, `${dave}@localhost`, 'subscribe');
      await d.send(xml('presence', { to: `${bob}@localhost`, type: 'subscribe' }));
      await req;
      const err = nextStanza(b, (s) => s.is('presence') && s.attrs.type === 'error');
      await b.send(xml('presence', { to: `${dave}@localhost`, type: 'subscribed' }));
      const e = await err;
      assert.ok(e.getChild('error')?.getChild('resource-constraint'));
      assert.match(e.toString(), /max-watchers/);
    });

    /** w subscribes to b and b approves. */
    async function befriendOneWay(w: Client, wId: string, b: Client, bId: string): Promise<void> {
      const req = presenceFrom(b, `${wId}@localhost`, 'subscribe');
      await w.send(xml('presence', { to: `${bId}@localhost`, type: 'subscribe' }));
      await req;
      const seen = presenceFrom(w, `${bId}@localhost/`);
      await b.send(xml('presence', { to: `${wId}@localhost`, type: 'subscribed' }));
      await seen;
    }

    it('blocking: a blocked contact sees the user unavailable and cannot reach them; unblocking restores presence', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const a = await online(alice, { resource: 'r' });
      const b = await online(bob, { resource: 'r' });
      await befriend(a, alice, b, bob);
      await a.iqCaller.get(xml('blocklist', { xmlns: 'urn:xmpp:blocking' }));
      const bSeesGone = presenceFrom(b, `${alice}@localhost/r`, 'unavailable');
      await a.iqCaller.set(xml('block', { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: `${bob}@localhost` })));
      await bSeesGone;
      const list = await a.iqCaller.get(xml('blocklist', { xmlns: 'urn:xmpp:blocking' }));
      assert.deepEqual(list.getChildren('item').map((i) => i.attrs.jid), [`${bob}@localhost`]);
      // bob cannot message alice; alice is told she blocks bob.
      const bErr = nextStanza(b, (s) => s.is('message') && s.attrs.type === 'error');
      await b.send(xml('message', { to: `${alice}@localhost`, type: 'chat' }, xml('body', {}, 'hello?')));
      assert.ok((await bErr).getChild('error')?.getChild('service-unavailable'));
      const aErr = nextStanza(a, (s) => s.is('message') && s.attrs.type === 'error');
      await a.send(xml('message', { to: `${bob}@localhost`, type: 'chat' }, xml('body', {}, 'hi')));
      assert.ok((await aErr).getChild('error')?.getChild('blocked', 'urn:xmpp:blocking:errors'));
      // Unblock: bob sees alice again.
      const back = presenceFrom(b, `${alice}@localhost/r`);
      await a.iqCaller.set(xml('unblock', { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: `${bob}@localhost` })));
      await back;
    });

    it('removing a contact unsubscribes both ways and the contact sees the user go', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const a = await online(alice, { resource: 'r' });
      const b = await online(bob, { resource: 'r' });
      await befriend(a, alice, b, bob);
      const bGone = presenceFrom(b, `${alice}@localhost/r`, 'unavailable');
      const bNone = push(b, `${alice}@localhost`, (i) => i.attrs.subscription === 'none');
      await a.iqCaller.set(xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: `${bob}@localhost`, subscription: 'remove' })));
      await Promise.all([bGone, bNone]);
    });
  });
}
