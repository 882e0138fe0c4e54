/** The admin API and the XMPP side of one node together: provisioning takes effect on live sessions; metrics count real traffic. */
import assert from 'node:assert/strict';
import { TEST_TOKEN, startTestNode, type TestNode } from '../helpers/node.js';
import { RawClient, connect, makeClient, nextStanza, stopAll, xml, type Client } from '../helpers/xmpp.js';

describe('admin API and XMPP on one node', function () {
  this.timeout(30000);
  let node: TestNode;
  const clients: Client[] = [];
  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`http://127.0.0.1:${node.ports.http}${path}`, { ...init, headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

  before(async () => { node = await startTestNode('redis'); });
  after(async () => { await stopAll(...clients); await node.stop(); });

  it('a user created through the API with IM&P and home cluster signs in; one without cannot', async () => {
    let res = await api('/api/v1/users', { method: 'POST', body: JSON.stringify({ userId: 'Erin', password: 'pw-erin', imPresenceEnabled: true, homeCluster: true }) });
    assert.equal(res.status, 201);
    res = await api('/api/v1/users', { method: 'POST', body: JSON.stringify({ userId: 'frank', password: 'pw-frank' }) });
    assert.equal(res.status, 201);
    clients.push(await connect({ port: node.ports.xmpp, username: 'erin', password: 'pw-erin' }));
    const f = makeClient({ port: node.ports.xmpp, username: 'frank', password: 'pw-frank' });
    clients.push(f);
    await assert.rejects(f.start(), (e: Error & { condition?: string }) => e.condition === 'account-disabled');
  });

  it('disabling or removing a user through the API ends their sessions', async () => {
    for (const [userId, change] of [['gina', { method: 'PATCH', body: JSON.stringify({ imPresenceEnabled: false }) }], ['hank', { method: 'DELETE' }]] as const) {
      await api('/api/v1/users', { method: 'POST', body: JSON.stringify({ userId, password: 'pw', imPresenceEnabled: true, homeCluster: true }) });
      const r = await RawClient.connect(node.ports.xmpps, true);
      await r.login(userId, 'pw');
      const res = await api(`/api/v1/users/${userId}`, change);
      assert.ok(res.status === 200 || res.status === 204, String(res.status));
      await r.waitFor(/<stream:error><not-authorized/);
      await r.waitClosed();
      assert.deepEqual(await node.store.sessions.listByUser(userId), []);
    }
  });

  it('/metrics counts sessions, stanzas and authentication failures', async () => {
    const before = await (await fetch(`http://127.0.0.1:${node.ports.http}/metrics`)).text();
    const value = (text: string, name: string): number => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    const bad = makeClient({ port: node.ports.xmpp, username: 'erin', password: 'wrong', mechanism: 'PLAIN' });
    clients.push(bad);
    await assert.rejects(bad.start());
    const after = await (await fetch(`http://127.0.0.1:${node.ports.http}/metrics`)).text();
    assert.equal(value(after, 'imp_xmpp_auth_failures_total'), value(before, 'imp_xmpp_auth_failures_total') + 1);
    assert.ok(value(after, 'imp_xmpp_sessions') >= 1);
    assert.ok(value(after, 'imp_xmpp_stanzas_in_total') >= 1);
    assert.ok(value(after, 'imp_xmpp_stanzas_out_total') >= 1);
    const health = await fetch(`http://127.0.0.1:${node.ports.http}/healthz`);
    assert.equal(health.status, 200);
  });

  it('the presence viewer shows live presence, and only what a watcher may see from their perspective', async () => {
    for (const u of ['ivy', 'jon']) {
      await api('/api/v1/users', { method: 'POST', body: JSON.stringify({ userId: u, password: 'pw', imPresenceEnabled: true, homeCluster: true }) });
    }
    const ivy = await connect({ port: node.ports.xmpp, username: 'ivy', password: 'pw', resource: 'desk', presence: false });
    const jon = await connect({ port: node.ports.xmpp, username: 'jon', password: 'pw', presence: true });
    clients.push(ivy, jon);
    await ivy.send(xml('presence', {}, xml('show', {}, 'dnd'), xml('status', {}, 'Focus time')));
    const view = async (q = ''): Promise<Record<string, unknown>> => (await (await api(`/api/v1/users/ivy/presence${q}`)).json()) as Record<string, unknown>;
    let v = await view();
    for (let i = 0; i < 20 && v.state !== 'dnd'; i++) { await new Promise((r) => setTimeout(r, 50)); v = await view(); }
    assert.equal(v.state, 'dnd');
    assert.equal(v.text, 'Focus time');
    assert.equal((v.sources as unknown[]).length, 1);
    // jon is not subscribed: he sees ivy as unavailable.
    v = await view('?perspective=jon');
    assert.equal(v.visible, false);
    assert.equal(v.state, 'unavailable');
    // jon subscribes and ivy approves: now he sees her state.
    const req = nextStanza(ivy, (s) => s.is('presence') && s.attrs.type === 'subscribe');
    await jon.send(xml('presence', { to: 'ivy@localhost', type: 'subscribe' }));
    await req;
    const seen = nextStanza(jon, (s) => s.is('presence') && (s.attrs.from ?? '').startsWith('ivy@localhost/'));
    await ivy.send(xml('presence', { to: 'jon@localhost', type: 'subscribed' }));
    await seen;
    v = await view('?perspective=jon');
    assert.equal(v.visible, true);
    assert.equal(v.state, 'dnd');
    assert.equal((await api(`/api/v1/users/ivy/presence?perspective=${'x'.repeat(129)}`)).status, 400);
  });
});
