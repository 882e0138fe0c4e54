/**
 * More of RFC 6121 §3–§4 between real clients: probes answered with the
 * last unavailable presence and its delay stamp, directed presence and the
 * unavailable it owes, a dropped connection, several resources, and a sample
 * of subscription sequences run end to end and compared with what the pure
 * state machine predicts for both users' roster items.
 */
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/memory.js';
import { processSubscription, type SubType } from '../../src/roster/subscriptions.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { RawClient, connect, nextStanza, sleep, stopAll, xml, type Client, type Element } from '../helpers/xmpp.js';

const NS_ROSTER = 'jabber:iq:roster';

describe('presence: probes, directed presence, dropped connections, subscription sequences', function () {
  this.timeout(60000);
  let node: TestNode;
  let clients: Client[] = [];
  let n = 0;
  const user = async (name: string): Promise<string> => { const id = `${name}${++n}`; await node.addUser(id, 'secret'); return id; };
  const online = async (u: string, resource = 'r', presence = true): Promise<Client> => {
    const c = await connect({ port: node.ports.xmpp, username: u, password: 'secret', resource, presence: false });
    clients.push(c);
    await c.iqCaller.get(xml('query', { xmlns: NS_ROSTER }));
    if (presence) {
      const own = nextStanza(c, (s) => s.is('presence') && s.attrs.from === c.jid?.toString());
      await c.send(xml('presence'));
      await own;
    }
    return c;
  };
  const presenceFrom = (c: Client, from: string, type?: string): Promise<Element> =>
    nextStanza(c, (s) => s.is('presence') && (s.attrs.from ?? '').startsWith(from) && s.attrs.type === type);
  const befriend = async (a: Client, alice: string, b: Client, bob: string): Promise<void> => {
    for (const [x, xId, y, yId] of [[a, alice, b, bob], [b, bob, a, alice]] as const) {
      const req = presenceFrom(y, `${xId}@localhost`, 'subscribe');
      await x.send(xml('presence', { to: `${yId}@localhost`, type: 'subscribe' }));
      await req;
      const seen = presenceFrom(x, `${yId}@localhost/`);
      await y.send(xml('presence', { to: `${xId}@localhost`, type: 'subscribed' }));
      await seen;
    }
  };

  before(async () => { node = await startTestNode('redis'); });
  after(async () => { await node.stop(); });
  afterEach(async () => { await stopAll(...clients); clients = []; });

  it('a contact who left answers the probe with their last unavailable presence, stamped', async () => {
    const [alice, bob] = [await user('alice'), await user('bob')];
    const a = await online(alice);
    const b = await online(bob);
    await befriend(a, alice, b, bob);
    await b.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'gone fishing')));
    await b.stop();
    await a.stop();
    const a2 = await online(alice, 'r', false);
    const last = presenceFrom(a2, `${bob}@localhost/r`, 'unavailable');
    await a2.send(xml('presence'));
    const p = await last;
    assert.equal(p.getChildText('status'), 'gone fishing');
    assert.ok(p.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp);
  });

  it('a dropped connection is broadcast as unavailable', async () => {
    const [alice, bob] = [await user('alice'), await user('bob')];
    const a = await online(alice);
    const b = await online(bob);
    await befriend(a, alice, b, bob);
    const gone = presenceFrom(a, `${bob}@localhost/r`, 'unavailable');
    (b as unknown as { socket: { socket: { destroy(): void } } }).socket.socket.destroy();
    await gone;
  });

  it('directed presence reaches a full JID or a bare JID, and logout owes it an unavailable', async () => {
    const [alice, bob] = [await user('alice'), await user('bob')];
    const b1 = await online(bob, 'one');
    const b2 = await online(bob, 'two');
    const r = await RawClient.connect(node.ports.xmpps, true);
    await r.login(alice, 'secret', 'raw');
    const toOne = nextStanza(b1, (s) => s.is('presence') && s.attrs.from === `${alice}@localhost/raw`);
    r.send(`<presence to='${bob}@localhost/one'><status>just you</status></presence>`);
    assert.equal((await toOne).getChildText('status'), 'just you');
    const toBoth = [b1, b2].map((c) => nextStanza(c, (s) => s.is('presence') && s.getChildText('status') === 'all of you'));
    r.send(`<presence to='${bob}@localhost'><status>all of you</status></presence>`);
    await Promise.all(toBoth);
    const owed = nextStanza(b1, (s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${alice}@localhost/raw`);
    r.close();
    await owed;
  });

  it('each of several resources is broadcast on its own; the other resource stays visible', async () => {
    const [alice, bob] = [await user('alice'), await user('bob')];
    const a = await online(alice, 'laptop');
    const b = await online(bob);
    await befriend(a, alice, b, bob);
    const phoneSeen = presenceFrom(b, `${alice}@localhost/phone`);
    const a2 = await online(alice, 'phone');
    await phoneSeen;
    const phoneGone = presenceFrom(b, `${alice}@localhost/phone`, 'unavailable');
    await a2.stop();
    await phoneGone;
    const roster = await b.iqCaller.get(xml('query', { xmlns: NS_ROSTER }));
    assert.equal(roster.getChildren('item').find((i) => i.attrs.jid === `${alice}@localhost`)?.attrs.subscription, 'both');
    assert.equal((await node.store.sessions.listByUser(alice)).filter((s) => s.available).map((s) => s.resource).join(), 'laptop');
  });

  describe('subscription sequences end to end, against the state machine', () => {
    const EVENTS: Array<['a' | 'b', SubType | 'remove']> = [];
    for (const who of ['a', 'b'] as const) for (const t of ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'remove'] as const) EVENTS.push([who, t]);
    // A fixed sample of ordered pairs (and a few triples), covering each event first and second.
    const SEQUENCES: Array<Array<['a' | 'b', SubType | 'remove']>> = [];
    for (let i = 0; i < EVENTS.length; i++) SEQUENCES.push([EVENTS[i], EVENTS[(i * 3 + 5) % EVENTS.length]]);
    SEQUENCES.push([['a', 'subscribe'], ['b', 'subscribed'], ['b', 'subscribe'], ['a', 'subscribed'], ['a', 'unsubscribe']]);
    SEQUENCES.push([['b', 'subscribed'], ['a', 'subscribe'], ['b', 'unsubscribed']]);
    SEQUENCES.push([['a', 'subscribe'], ['b', 'unsubscribed'], ['a', 'subscribe'], ['b', 'subscribed'], ['b', 'remove']]);

    const itemView = (i: Element | undefined): string =>
      i ? `${i.attrs.subscription}${i.attrs.ask ? '+ask' : ''}${i.attrs.approved ? '+approved' : ''}` : '-';

    for (const seq of SEQUENCES) {
      it(seq.map(([w, t]) => `${w === 'a' ? 'alice' : 'bob'} ${t}`).join(', '), async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const a = await online(alice);
        const b = await online(bob);
        // The prediction: the same sequence through processSubscription on a fresh memory store.
        const model = new MemoryStore();
        const limits = { maxContacts: 200, maxWatchers: 200 };
        const A = { userId: alice, bare: `${alice}@localhost` };
        const B = { userId: bob, bare: `${bob}@localhost` };
        for (const [who, type] of seq) {
          const [me, other] = who === 'a' ? [A, B] : [B, A];
          const client = who === 'a' ? a : b;
          await processSubscription(model.rosters, limits, me, other, type, true);
          if (type === 'remove') {
            const item = await node.store.rosters.getItem(me.userId, other.bare);
            if (item && !item.hidden) await client.iqCaller.set(xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: other.bare, subscription: 'remove' })));
          } else {
            await client.send(xml('presence', { to: other.bare, type }));
          }
          await sleep(150);
        }
        await sleep(200);
        const shown = async (owner: { userId: string }, jid: string): Promise<string> => {
          const i = await model.rosters.getItem(owner.userId, jid);
          return i && !i.hidden ? `${i.subscription}${i.ask ? '+ask' : ''}${i.approved ? '+approved' : ''}` : '-';
        };
        const ra = await a.iqCaller.get(xml('query', { xmlns: NS_ROSTER }));
        const rb = await b.iqCaller.get(xml('query', { xmlns: NS_ROSTER }));
        assert.equal(itemView(ra.getChildren('item').find((i) => i.attrs.jid === B.bare)), await shown(A, B.bare), "alice's item for bob");
        assert.equal(itemView(rb.getChildren('item').find((i) => i.attrs.jid === A.bare)), await shown(B, A.bare), "bob's item for alice");
        await model.close();
      });
    }
  });
});
