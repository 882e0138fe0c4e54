/**
 * Two nodes sharing one Redis (store and pub/sub bus) in one test run:
 * users signed in on different nodes subscribe, see each other's presence,
 * chat, get carbons across nodes, and a bind on one node replaces the same
 * resource on the other.
 */
import assert from 'node:assert/strict';
import { freshPrefix } from '../helpers/redis-server.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { RawClient, collect, connect, nextStanza, sleep, stopAll, xml, type Client, type Element } from '../helpers/xmpp.js';

describe('two nodes sharing one Redis', function () {
  this.timeout(30000);
  let nodeA: TestNode;
  let nodeB: TestNode;
  let clients: Client[] = [];
  const presenceFrom = (c: Client, from: string, type?: string): Promise<Element> =>
    nextStanza(c, (s) => s.is('presence') && (s.attrs.from ?? '').startsWith(from) && s.attrs.type === type);
  const on = async (node: TestNode, u: string, resource = 'r', presence = true): Promise<Client> => {
    const c = await connect({ port: node.ports.xmpp, username: u, password: 'secret', resource, presence: false });
    clients.push(c);
    await c.iqCaller.get(xml('query', { xmlns: 'jabber:iq:roster' }));
    if (presence) {
      const own = presenceFrom(c, c.jid!.toString());
      await c.send(xml('presence'));
      await own;
    }
    return c;
  };

  before(async () => {
    const prefix = freshPrefix('two');
    nodeA = await startTestNode('redis', ['--node-id', 'node-a'], { prefix });
    nodeB = await startTestNode('redis', ['--node-id', 'node-b'], { prefix });
    for (const u of ['alice', 'bob', 'carol']) await nodeA.addUser(u, 'secret');
  });
  after(async () => { await stopAll(...clients); await nodeA.stop(); await nodeB.stop(); });
  afterEach(async () => { await stopAll(...clients); clients = []; await sleep(100); });

  it('alice on node A and bob on node B subscribe, see each other, chat, and see each other leave', async () => {
    const a = await on(nodeA, 'alice');
    const b = await on(nodeB, 'bob');
    assert.deepEqual((await nodeA.store.sessions.listByUser('bob')).map((s) => s.nodeId), ['node-b'], 'node A finds bob on node B');

    const req = presenceFrom(b, 'alice@localhost', 'subscribe');
    await a.send(xml('presence', { to: 'bob@localhost', type: 'subscribe' }));
    await req;
    const aSeesB = presenceFrom(a, 'bob@localhost/r');
    await b.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
    await aSeesB;
    const req2 = presenceFrom(a, 'bob@localhost', 'subscribe');
    await b.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }));
    await req2;
    const bSeesA = presenceFrom(b, 'alice@localhost/r');
    await a.send(xml('presence', { to: 'bob@localhost', type: 'subscribed' }));
    await bSeesA;

    const away = nextStanza(b, (s) => s.is('presence') && s.getChildText('show') === 'away');
    await a.send(xml('presence', {}, xml('show', {}, 'away')));
    await away;

    const toBob = nextStanza(b, (s) => s.is('message'));
    await a.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'across nodes')));
    assert.equal((await toBob).getChildText('body'), 'across nodes');
    const toAlice = nextStanza(a, (s) => s.is('message'));
    await b.send(xml('message', { to: 'alice@localhost/r', type: 'chat' }, xml('body', {}, 'and back')));
    assert.equal((await toAlice).getChildText('body'), 'and back');

    const gone = presenceFrom(b, 'alice@localhost/r', 'unavailable');
    await a.stop();
    await gone;
  });

  it('alice on both nodes gets carbons of what she sends from either', async () => {
    const onA = await on(nodeA, 'alice', 'desk');
    const onB = await on(nodeB, 'alice', 'phone');
    const carol = await on(nodeA, 'carol');
    for (const c of [onA, onB]) await c.iqCaller.set(xml('enable', { xmlns: 'urn:xmpp:carbons:2' }));
    const copy = nextStanza(onB, (s) => !!s.getChild('sent', 'urn:xmpp:carbons:2'));
    const toCarol = nextStanza(carol, (s) => s.is('message'));
    await onA.send(xml('message', { to: 'carol@localhost', type: 'chat' }, xml('body', {}, 'hi carol')));
    await Promise.all([copy, toCarol]);
  });

  it('binding the same resource on node B replaces the session on node A with conflict', async () => {
    const first = await RawClient.connect(nodeA.ports.xmpps, true);
    await first.login('carol', 'secret', 'same');
    await on(nodeB, 'carol', 'same', false);
    await first.waitFor(/<stream:error><conflict/);
    await first.waitClosed();
    await sleep(200);
    const recs = await nodeA.store.sessions.listByUser('carol');
    assert.deepEqual(recs.map((r) => [r.resource, r.nodeId]), [['same', 'node-b']]);
  });

  it('a message to a user on no node is stored, and delivered when they sign in on the other node', async () => {
    const a = await on(nodeA, 'alice');
    const seen = collect(a);
    await a.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'later')));
    await sleep(300);
    assert.equal(seen.filter((s) => s.attrs.type === 'error').length, 0);
    const b = await connect({ port: nodeB.ports.xmpp, username: 'bob', password: 'secret', presence: false });
    clients.push(b);
    const got = nextStanza(b, (s) => s.is('message'));
    await b.send(xml('presence'));
    assert.equal((await got).getChildText('body'), 'later');
  });
});
