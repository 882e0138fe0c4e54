/**
 * The admin HTTP API over a real socket: an operator (with the token) and a
 * stranger (without) talk to a server on an ephemeral loopback port backed by
 * a MemoryStore.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createAdminServer } from '../../src/admin/http-server.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { UserRecord } from '../../src/store/types.js';
import { silentLogger } from '../../src/util/log.js';
import { Metrics } from '../../src/util/metrics.js';

const TOKEN = 'test-admin-token-0123456789';
const PASSWORD = 'correct horse battery staple';
const CREDENTIAL_WORDS = /salt|storedKey|serverKey|iterations/i;

interface Res { status: number; headers: Headers; text: string; body: unknown }
interface Req { token?: string | null; contentType?: string; raw?: string; auth?: string }

describe('admin HTTP API', function () {
  let store: MemoryStore;
  let app: FastifyInstance;
  let base: string;
  let metrics: Metrics;
  let healthy: boolean | 'throw';
  let changes: Array<[string, UserRecord | null]>;
  const secrets = new Set<string>([PASSWORD]);

  beforeEach(async function () {
    store = new MemoryStore();
    metrics = new Metrics();
    healthy = true;
    changes = [];
    app = await createAdminServer({
      store, metrics, token: TOKEN, log: silentLogger,
      health: async () => {
        if (healthy === 'throw') throw new Error('store ping timed out');
        return { ok: healthy, checks: { store: healthy ? 'up' : 'down', xmpp: 'listening' } };
      },
      onUserChanged: (userId, user) => { changes.push([userId, user]); },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  afterEach(async function () {
    await app.close();
  });

  /** Every answer is checked: no credential material, no stack, no password value, ever. */
  async function call(method: string, path: string, json?: unknown, opts: Req = {}): Promise<Res> {
    const headers: Record<string, string> = {};
    const token = opts.token === undefined ? TOKEN : opts.token;
    if (opts.auth !== undefined) headers.authorization = opts.auth;
    else if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = opts.raw;
    if (json !== undefined) body = JSON.stringify(json);
    if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const r = await fetch(base + path, { method, headers, body });
    const text = await r.text();
    assert.doesNotMatch(text, CREDENTIAL_WORDS, `${method} ${path} leaked credential fields`);
    assert.doesNotMatch(text, /\n\s+at /, `${method} ${path} leaked a stack`);
    for (const s of secrets) assert.ok(!text.includes(s), `${method} ${path} leaked a password`);
    // (The OpenAPI document describes the write-only password field; it holds no value.)
    if (r.status < 300 && !path.endsWith('openapi.json')) assert.doesNotMatch(text, /password/i, `${method} ${path} answered with a password field`);
    const isJson = r.headers.get('content-type')?.startsWith('application/json') ?? false;
    return { status: r.status, headers: r.headers, text, body: isJson && text ? JSON.parse(text) : undefined };
  }

  const user = (r: Res): UserRecord => r.body as UserRecord;
  const err = (r: Res): { code: string; message: string; field?: string } => (r.body as { error: { code: string; message: string; field?: string } }).error;

  async function create(userId: string, extra: Record<string, unknown> = {}): Promise<UserRecord> {
    const r = await call('POST', '/api/v1/users', { userId, password: PASSWORD, ...extra });
    assert.equal(r.status, 201, r.text);
    return user(r);
  }

  it('an operator creates, reads, lists, changes and removes alice', async function () {
    const created = await call('POST', '/api/v1/users', {
      userId: 'alice', password: PASSWORD, firstName: 'Alice', lastName: 'Liddell', displayName: 'Alice L.',
      email: 'alice@example.com', telephoneNumber: '+1 (555) 010-2000', imPresenceEnabled: true,
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), '/api/v1/users/alice');
    assert.deepEqual(Object.keys(user(created)).sort(), ['createdAt', 'displayName', 'email', 'firstName', 'homeCluster', 'imPresenceEnabled', 'lastName', 'telephoneNumber', 'updatedAt', 'userId']);
    assert.equal(user(created).imPresenceEnabled, true);
    assert.equal(user(created).homeCluster, false, 'homeCluster defaults to false over HTTP');
    const creds = await store.users.getCredentials('alice');
    assert.ok(creds?.['SHA-1'] && creds['SHA-256'], 'SCRAM keys for both hashes are stored');

    const got = await call('GET', '/api/v1/users/alice');
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, created.body);

    const list = await call('GET', '/api/v1/users');
    assert.deepEqual(list.body, { users: [created.body], total: 1, offset: 0, limit: 100 });

    const patched = await call('PATCH', '/api/v1/users/alice', { displayName: 'Alice', homeCluster: true, email: null });
    assert.equal(patched.status, 200);
    assert.equal(user(patched).displayName, 'Alice');
    assert.equal(user(patched).homeCluster, true);
    assert.equal(user(patched).email, null, 'null clears a field');
    assert.equal(user(patched).firstName, 'Alice', 'omitted fields keep their value');
    assert.deepEqual(changes, [['alice', patched.body]]);

    const removed = await call('DELETE', '/api/v1/users/alice');
    assert.equal(removed.status, 204);
    assert.equal(removed.text, '');
    assert.deepEqual(changes[1], ['alice', null]);
    assert.equal((await call('GET', '/api/v1/users/alice')).status, 404);
    assert.equal(await store.users.getCredentials('alice'), null);
  });

  it('stores the prepared userId, and the path finds it whatever the case', async function () {
    const u = await create('Alice');
    assert.equal(u.userId, 'alice');
    const r = await call('GET', '/api/v1/users/ALICE');
    assert.equal(r.status, 200);
    assert.equal(user(r).userId, 'alice');
    assert.equal((await call('PATCH', '/api/v1/users/AliCe', { lastName: 'L' })).status, 200);
    assert.equal(changes[0]?.[0], 'alice', 'onUserChanged gets the stored userId');
  });

  it('refuses a duplicate userId, case variants included, with 409', async function () {
    await create('alice');
    for (const dup of ['alice', 'Alice', 'ALICE']) {
      const r = await call('POST', '/api/v1/users', { userId: dup, password: 'another one' });
      assert.equal(r.status, 409, dup);
      assert.equal(err(r).code, 'IMP_USER_EXISTS');
      assert.equal(err(r).field, 'userId');
      assert.match(err(r).message, /^userId: alice already exists/);
    }
  });

  describe('a stranger without the token', function () {
    const routes: Array<[string, string, unknown?]> = [
      ['POST', '/api/v1/users', { userId: 'mallory', password: 'x' }],
      ['GET', '/api/v1/users'],
      ['GET', '/api/v1/users/alice'],
      ['PATCH', '/api/v1/users/alice', { homeCluster: true }],
      ['DELETE', '/api/v1/users/alice'],
    ];
    for (const [method, path, body] of routes) {
      it(`gets 401 from ${method} ${path} with no token, a wrong token or another scheme`, async function () {
        await create('alice');
        for (const opts of [{ token: null }, { token: 'wrong' }, { token: TOKEN + 'x' }, { auth: `Basic ${TOKEN}` }, { auth: 'Bearer' }] as Req[]) {
          const r = await call(method, path, body, opts);
          assert.equal(r.status, 401, JSON.stringify(opts));
          assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
          assert.equal(err(r).code, 'IMP_UNAUTHORIZED');
        }
        const alice = await call('GET', '/api/v1/users/alice');
        assert.equal(user(alice).homeCluster, false, 'nothing changed');
        assert.equal((await store.users.list(0, 10)).total, 1);
        assert.deepEqual(changes, []);
      });
    }

    it('still reaches /healthz, /metrics and the OpenAPI document', async function () {
      assert.equal((await call('GET', '/healthz', undefined, { token: null })).status, 200);
      assert.equal((await call('GET', '/metrics', undefined, { token: null })).status, 200);
      const doc = await call('GET', '/api/v1/openapi.json', undefined, { token: null });
      assert.equal(doc.status, 200);
      const d = doc.body as { openapi: string; paths: Record<string, unknown> };
      assert.equal(d.openapi, '3.1.0');
      assert.ok(d.paths['/api/v1/users/{userId}']);
    });
  });

  describe('validation: 400 naming the field, and nothing created', function () {
    const cases: Array<[string, Record<string, unknown> | unknown, string]> = [
      ['userId with @', { userId: 'a@b', password: PASSWORD }, 'userId'],
      ['userId with a space', { userId: 'a b', password: PASSWORD }, 'userId'],
      ['userId empty', { userId: '', password: PASSWORD }, 'userId'],
      ['userId missing', { password: PASSWORD }, 'userId'],
      ['userId a number', { userId: 42, password: PASSWORD }, 'userId'],
      ['userId too long', { userId: 'a'.repeat(1024), password: PASSWORD }, 'userId'],
      ['password missing', { userId: 'bob' }, 'password'],
      ['password empty', { userId: 'bob', password: '' }, 'password'],
      ['password too long', { userId: 'bob', password: 'p'.repeat(1025) }, 'password'],
      ['password not a string', { userId: 'bob', password: 1234 }, 'password'],
      ['email without @', { userId: 'bob', password: PASSWORD, email: 'bob.example.com' }, 'email'],
      ['email a number', { userId: 'bob', password: PASSWORD, email: 5 }, 'email'],
      ['telephone with letters', { userId: 'bob', password: PASSWORD, telephoneNumber: '555-CALL-BOB' }, 'telephoneNumber'],
      ['telephone too long', { userId: 'bob', password: PASSWORD, telephoneNumber: '1'.repeat(65) }, 'telephoneNumber'],
      ['imPresenceEnabled a string', { userId: 'bob', password: PASSWORD, imPresenceEnabled: 'true' }, 'imPresenceEnabled'],
      ['homeCluster a number', { userId: 'bob', password: PASSWORD, homeCluster: 1 }, 'homeCluster'],
      ['firstName a number', { userId: 'bob', password: PASSWORD, firstName: 7 }, 'firstName'],
      ['displayName with a control character', { userId: 'bob', password: PASSWORD, displayName: 'Bob\u0007' }, 'displayName'],
      ['lastName too long', { userId: 'bob', password: PASSWORD, lastName: 'x'.repeat(257) }, 'lastName'],
      ['an unknown field', { userId: 'bob', password: PASSWORD, role: 'admin' }, 'role'],
      ['a server-set field', { userId: 'bob', password: PASSWORD, createdAt: '2020-01-01T00:00:00Z' }, 'createdAt'],
      ['an array body', [{ userId: 'bob', password: PASSWORD }], 'body'],
      ['a null body', null, 'body'],
    ];
    for (const [what, body, field] of cases) {
      it(`${what} → 400 naming ${field}`, async function () {
        const r = await call('POST', '/api/v1/users', body);
        assert.equal(r.status, 400, r.text);
        assert.equal(err(r).code, 'IMP_VALIDATION');
        assert.equal(err(r).field, field);
        assert.ok(err(r).message.startsWith(`${field}: `), err(r).message);
        assert.equal((await store.users.list(0, 10)).total, 0);
      });
    }

    it('treats "" as "none" for optional text fields', async function () {
      const u = await create('bob', { email: '', telephoneNumber: '', firstName: '' });
      assert.equal(u.email, null);
      assert.equal(u.telephoneNumber, null);
      assert.equal(u.firstName, null);
    });
  });

  describe('bodies the server cannot take', function () {
    it('malformed JSON → 400 naming body', async function () {
      const r = await call('POST', '/api/v1/users', undefined, { raw: '{"userId": "bob", ' });
      assert.equal(r.status, 400);
      assert.equal(err(r).code, 'IMP_VALIDATION');
      assert.equal(err(r).field, 'body');
    });

    it('an empty JSON body → 400, a missing body → 400', async function () {
      assert.equal((await call('POST', '/api/v1/users', undefined, { raw: '' })).status, 400);
      const r = await call('POST', '/api/v1/users');
      assert.equal(r.status, 400);
      assert.equal(err(r).field, 'body');
    });

    it('prototype-poisoning JSON → 400', async function () {
      const r = await call('POST', '/api/v1/users', undefined, { raw: '{"userId":"bob","password":"x","__proto__":{"admin":true}}' });
      assert.equal(r.status, 400);
      assert.equal(err(r).code, 'IMP_VALIDATION');
    });

    it('a body that is not JSON → 415', async function () {
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        const r = await call('POST', '/api/v1/users', undefined, { raw: 'userId=bob', contentType });
        assert.equal(r.status, 415, contentType);
        assert.equal(err(r).code, 'IMP_UNSUPPORTED_MEDIA_TYPE');
      }
    });

    it('a body over 1 MiB → 413', async function () {
      const raw = JSON.stringify({ userId: 'bob', password: PASSWORD, displayName: 'x'.repeat(1024 * 1024) });
      const r = await call('POST', '/api/v1/users', undefined, { raw });
      assert.equal(r.status, 413);
      assert.equal(err(r).code, 'IMP_BODY_TOO_LARGE');
      assert.equal((await store.users.list(0, 10)).total, 0);
    });
  });

  it('answers unknown routes with a JSON 404', async function () {
    for (const [method, path] of [['GET', '/nope'], ['GET', '/api/v1/groups'], ['PUT', '/api/v1/users/alice']]) {
      const r = await call(method!, path!);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(err(r).code, 'IMP_ROUTE_NOT_FOUND');
    }
  });

  it('answers 404 for a user that does not exist, on every verb', async function () {
    for (const [method, body] of [['GET'], ['PATCH', { homeCluster: true }], ['DELETE']] as Array<[string, unknown?]>) {
      const r = await call(method, '/api/v1/users/ghost', body);
      assert.equal(r.status, 404, method);
      assert.equal(err(r).code, 'IMP_USER_NOT_FOUND');
    }
    assert.deepEqual(changes, []);
  });

  it('answers 400 for an invalid userId in the path', async function () {
    const r = await call('GET', `/api/v1/users/${encodeURIComponent('a b')}`);
    assert.equal(r.status, 400);
    assert.equal(err(r).field, 'userId');
  });

  it('pages through users in userId order', async function () {
    for (const id of ['erin', 'carol', 'alice', 'dave', 'bob']) await create(id);
    const ids = (r: Res): string[] => (r.body as { users: UserRecord[] }).users.map((u) => u.userId);
    const p1 = await call('GET', '/api/v1/users?limit=2');
    assert.deepEqual(ids(p1), ['alice', 'bob']);
    assert.deepEqual({ ...(p1.body as object), users: undefined }, { users: undefined, total: 5, offset: 0, limit: 2 });
    assert.deepEqual(ids(await call('GET', '/api/v1/users?offset=2&limit=2')), ['carol', 'dave']);
    assert.deepEqual(ids(await call('GET', '/api/v1/users?offset=4&limit=2')), ['erin']);
    assert.deepEqual(ids(await call('GET', '/api/v1/users?offset=10')), []);
    assert.equal(((await call('GET', '/api/v1/users?limit=1000')).body as { limit: number }).limit, 1000);
    for (const [q, field] of [['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=abc', 'limit'], ['limit=', 'limit'],
      ['limit=2.5', 'limit'], ['offset=-1', 'offset'], ['offset=x', 'offset'], ['limit=1&limit=2', 'limit']]) {
      const r = await call('GET', `/api/v1/users?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(err(r).field, field, q);
    }
  });

  describe('PATCH', function () {
    it('a refused patch changes nothing: no field, no password, no updatedAt', async function () {
      const before = await create('alice', { firstName: 'Alice', email: 'alice@example.com' });
      const credsBefore = await store.users.getCredentials('alice');
      secrets.add('a new password');
      for (const patch of [
        { firstName: 'Alicia', password: 'a new password', email: 'not an email' },
        { firstName: 'Alicia', password: 'a new password', role: 'admin' },
        { firstName: 'Alicia', password: '', homeCluster: true },
        { userId: 'alicia', firstName: 'Alicia' },
      ]) {
        const r = await call('PATCH', '/api/v1/users/alice', patch);
        assert.equal(r.status, 400, JSON.stringify(patch));
        assert.equal(err(r).code, 'IMP_VALIDATION');
      }
      assert.deepEqual(user(await call('GET', '/api/v1/users/alice')), before);
      assert.deepEqual(await store.users.getCredentials('alice'), credsBefore);
      assert.deepEqual(changes, [], 'onUserChanged not called for a refused patch');
    });

    it('names userId as not changeable', async function () {
      await create('alice');
      const r = await call('PATCH', '/api/v1/users/alice', { userId: 'bob' });
      assert.equal(err(r).field, 'userId');
      assert.equal(err(r).message, 'userId: cannot be changed');
    });

    it('replaces the SCRAM keys when given a password', async function () {
      await create('alice');
      const before = await store.users.getCredentials('alice');
      secrets.add('rotated password 2');
      const r = await call('PATCH', '/api/v1/users/alice', { password: 'rotated password 2' });
      assert.equal(r.status, 200);
      assert.notDeepEqual(await store.users.getCredentials('alice'), before);
    });

    it('accepts application/merge-patch+json', async function () {
      await create('alice', { email: 'a@example.com' });
      const r = await call('PATCH', '/api/v1/users/alice', undefined, { raw: JSON.stringify({ email: null }), contentType: 'application/merge-patch+json' });
      assert.equal(r.status, 200, r.text);
      assert.equal(user(r).email, null);
    });
  });

  it('keeps answering when onUserChanged throws (the change is made)', async function () {
    await app.close();
    app = await createAdminServer({
      store, metrics: new Metrics(), token: TOKEN, log: silentLogger,
      health: async () => ({ ok: true, checks: {} }),
      onUserChanged: () => { throw new Error('session table exploded'); },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await create('alice');
    assert.equal((await call('DELETE', '/api/v1/users/alice')).status, 204);
    assert.equal(await store.users.get('alice'), null);
  });

  describe('health and metrics', function () {
    it('/healthz is 200 with the checks when healthy', async function () {
      const r = await call('GET', '/healthz', undefined, { token: null });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { ok: true, checks: { store: 'up', xmpp: 'listening' } });
    });

    it('/healthz is 503 when a check fails or health() throws', async function () {
      healthy = false;
      const r = await call('GET', '/healthz', undefined, { token: null });
      assert.equal(r.status, 503);
      assert.deepEqual(r.body, { ok: false, checks: { store: 'down', xmpp: 'listening' } });
      healthy = 'throw';
      const t = await call('GET', '/healthz', undefined, { token: null });
      assert.equal(t.status, 503);
      assert.equal((t.body as { ok: boolean }).ok, false);
    });

    it('/metrics is Prometheus text and counts admin requests', async function () {
      metrics.counter('imp_test_things_total', 'things')(3);
      await call('GET', '/api/v1/users');
      const r = await call('GET', '/metrics', undefined, { token: null });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      assert.match(r.text, /^# TYPE imp_test_things_total counter$/m);
      assert.match(r.text, /^imp_test_things_total 3$/m);
      assert.match(r.text, /^imp_admin_requests_total\{status="200"\} [1-9]/m);
    });
  });

  describe('failures inside', function () {
    it('a store that is down → 503 IMP_STORE_UNAVAILABLE with Retry-After', async function () {
      await store.close();
      const r = await call('GET', '/api/v1/users');
      assert.equal(r.status, 503);
      assert.equal(err(r).code, 'IMP_STORE_UNAVAILABLE');
      assert.ok(r.headers.get('retry-after'));
    });

    it('an unexpected error → 500 IMP_INTERNAL without its message', async function () {
      (store.users as { get: unknown }).get = async () => { throw new Error('ECONNRESET at /internal/path'); };
      const r = await call('GET', '/api/v1/users/alice');
      assert.equal(r.status, 500);
      assert.equal(err(r).code, 'IMP_INTERNAL');
      assert.doesNotMatch(r.text, /ECONNRESET|internal\/path/);
    });
  });

  it('refuses to start with an empty token', async function () {
    await assert.rejects(createAdminServer({
      store, metrics, token: ' ', log: silentLogger, health: async () => ({ ok: true, checks: {} }),
    }), /token/);
  });
});
