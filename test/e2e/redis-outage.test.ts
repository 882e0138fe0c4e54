/**
 * Redis going away while a node runs, with a real private redis-server that
 * the test stops and starts again: sign-ins fail with a temporary error,
 * open sessions keep chatting, nothing the server acknowledged is lost, and
 * the node reconnects by itself.
 */
import assert from 'node:assert/strict';
import { RedisServer, freshPrefix } from '../helpers/redis-server.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { connect, makeClient, nextStanza, stopAll, xml, type Client } from '../helpers/xmpp.js';

const waitFor = async (cond: () => boolean | Promise<boolean>, ms = 10000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('XMPP while Redis goes away and comes back', function () {
  this.timeout(60000);
  let redis: RedisServer;
  let node: TestNode;
  const clients: Client[] = [];

  before(async () => {
    redis = await RedisServer.start();
    node = await startTestNode('redis', [], { redisUrl: redis.url, prefix: freshPrefix('outage') });
    for (const u of ['alice', 'bob', 'carol', 'dave']) await node.addUser(u, 'secret');
  });
  after(async () => {
    await stopAll(...clients);
    await node?.stop();
    await redis?.destroy();
  });

  it('keeps open sessions working, refuses sign-ins with temporary-auth-failure, and recovers', async () => {
    const a = await connect({ port: node.ports.xmpp, username: 'alice', password: 'secret' });
    const b = await connect({ port: node.ports.xmpp, username: 'bob', password: 'secret' });
    clients.push(a, b);
    // A message stored for dave before the outage must survive it.
    await a.send(xml('message', { to: 'dave@localhost', type: 'chat' }, xml('body', {}, 'kept across the outage')));
    await waitFor(async () => (await node.store.offline.count('dave')) === 1);

    await redis.stop();
    await waitFor(() => node.store.status() === 'down');

    // Health says so.
    const health = await fetch(`http://127.0.0.1:${node.ports.http}/healthz`);
    assert.equal(health.status, 503);

    // A new sign-in is refused with a temporary error, not a wrong-password one.
    const c = makeClient({ port: node.ports.xmpp, username: 'carol', password: 'secret', mechanism: 'SCRAM-SHA-256' });
    clients.push(c);
    await assert.rejects(c.start(), (e: Error & { condition?: string }) => e.condition === 'temporary-auth-failure');

    // Alice and Bob, already signed in on this node, still chat.
    const got = nextStanza(b, (s) => s.is('message') && s.getChildText('body') === 'still here');
    await a.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'still here')));
    await got;

    // A message for an offline user cannot be kept: the sender is told (type wait), not silently dropped.
    const err = nextStanza(a, (s) => s.is('message') && s.attrs.type === 'error');
    await a.send(xml('message', { to: 'carol@localhost', type: 'chat', id: 'lost?' }, xml('body', {}, 'for carol')));
    const e = await err;
    assert.equal(e.attrs.id, 'lost?');
    assert.equal(e.getChild('error')?.attrs.type, 'wait');

    await redis.start();
    await waitFor(() => node.store.status() === 'up', 15000);
    assert.equal((await fetch(`http://127.0.0.1:${node.ports.http}/healthz`)).status, 200);

    // Sessions were re-registered: routing through the store finds them again.
    await waitFor(async () => (await node.store.sessions.listByUser('bob')).length === 1);
    const got2 = nextStanza(b, (s) => s.is('message') && s.getChildText('body') === 'after');
    await a.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'after')));
    await got2;

    // Sign-in works again, and dave finds the message acknowledged before the outage.
    const d = await connect({ port: node.ports.xmpp, username: 'dave', password: 'secret', presence: false });
    clients.push(d);
    const offline = nextStanza(d, (s) => s.is('message'));
    await d.send(xml('presence'));
    assert.equal((await offline).getChildText('body'), 'kept across the outage');
  });
});
