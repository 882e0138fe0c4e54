/**
 * GET /api/v1/users/:userId/presence over a real socket: an operator asks how
 * alice looks to herself and to each of her contacts, backed by a MemoryStore
 * and a fake source of live tuples.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createAdminServer, type AdminDeps } from '../../src/admin/http-server.js';
import { createUser } from '../../src/admin/users-service.js';
import type { PresenceTuple } from '../../src/presence-engine/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import { emptyItem, type Subscription } from '../../src/store/roster-types.js';
import { silentLogger } from '../../src/util/log.js';
import { Metrics } from '../../src/util/metrics.js';

const TOKEN = 'presence-route-token-0123456789';
const LIMITS = { maxContacts: 100, maxWatchers: 100 };

interface Res { status: number; body: Record<string, unknown>; text: string; headers: Headers }
interface ErrBody { code: string; message: string; field?: string }

const ALICE_TUPLES: PresenceTuple[] = [
  { source: { kind: 'xmpp', id: 'mobile' }, available: true, show: 'away', status: null, priority: 0, updatedAt: 2000 },
  { source: { kind: 'xmpp', id: 'desk' }, available: true, show: 'available', status: 'Working from home', priority: 5, updatedAt: 1000 },
  { source: { kind: 'phone', id: '+1 555 0100' }, available: true, show: 'available', status: null, priority: 0, onThePhone: true, updatedAt: 3000 },
];

describe('admin API: presence viewer route', function () {
  let store: MemoryStore;
  let app: FastifyInstance | null = null;
  let base: string;
  let tuples: Map<string, PresenceTuple[]>;
  let asked: string[];

  async function start(extra: Partial<AdminDeps> = {}): Promise<void> {
    app = await createAdminServer({
      store, metrics: new Metrics(), token: TOKEN, log: silentLogger,
      health: async () => ({ ok: true, checks: {} }),
      domain: 'example.com',
      presence: async (userId) => { asked.push(userId); return tuples.get(userId) ?? []; },
      ...extra,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }

  async function contact(owner: string, jid: string, subscription: Subscription): Promise<void> {
    const r = await store.rosters.put(owner, { ...emptyItem(jid), subscription }, LIMITS);
    assert.ok(!('refused' in r), JSON.stringify(r));
  }

  beforeEach(async function () {
    store = new MemoryStore();
    tuples = new Map([['alice', ALICE_TUPLES]]);
    asked = [];
    for (const userId of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) await createUser(store, { userId, password: 'pw' });
    await contact('alice', 'bob@example.com', 'both');
    await contact('alice', 'carol@example.com', 'from');
    await contact('alice', 'dave@example.com', 'to');
    await contact('alice', 'erin@example.com', 'none');
    // frank: subscribed, but blocked.
    await contact('alice', 'frank@example.com', 'both');
    await store.blocks.add('alice', ['frank@example.com']);
  });

  afterEach(async function () {
    await app?.close();
    app = null;
  });

  async function get(path: string, token: string | null = TOKEN): Promise<Res> {
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
    const r = await fetch(base + path, { headers });
    const text = await r.text();
    assert.doesNotMatch(text, /\n\s+at /, `${path} leaked a stack`);
    return { status: r.status, text, headers: r.headers, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
  }
  const presence = (userId: string, perspective?: string): Promise<Res> =>
    get(`/api/v1/users/${encodeURIComponent(userId)}/presence${perspective === undefined ? '' : `?perspective=${encodeURIComponent(perspective)}`}`);
  const err = (r: Res): ErrBody => r.body.error as ErrBody;

  async function expectError(r: Promise<Res>, status: number, code: string, field?: string): Promise<ErrBody> {
    const res = await r;
    assert.equal(res.status, status, res.text);
    assert.equal(err(res).code, code, res.text);
    assert.equal(err(res).field, field, res.text);
    return err(res);
  }

  describe('the administrator\'s view (no perspective)', function () {
    beforeEach(async function () { await start(); });

    it('shows the composed state and every source, ordered by kind then id', async function () {
      const r = await presence('alice');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, {
        userId: 'alice', perspective: null, visible: true, reason: 'self',
        // desk wins on priority; its text is kept while the phone makes alice busy.
        state: 'dnd', text: 'Working from home', onThePhone: true, inMeeting: false,
        sources: [
          { kind: 'phone', id: '+1 555 0100', available: true, show: 'available', status: null, priority: 0, onThePhone: true, inMeeting: false, updatedAt: 3000 },
          { kind: 'xmpp', id: 'desk', available: true, show: 'available', status: 'Working from home', priority: 5, onThePhone: false, inMeeting: false, updatedAt: 1000 },
          { kind: 'xmpp', id: 'mobile', available: true, show: 'away', status: null, priority: 0, onThePhone: false, inMeeting: false, updatedAt: 2000 },
        ],
      });
      assert.deepEqual(asked, ['alice']);
      assert.equal(r.headers.get('cache-control'), 'no-store');
    });

    it('a user with no sources is unavailable, with an empty source list', async function () {
      const r = await presence('bob');
      assert.deepEqual(r.body, { userId: 'bob', perspective: null, visible: true, reason: 'self', state: 'unavailable', text: null, onThePhone: false, inMeeting: false, sources: [] });
    });

    it('prepares the userId (Alice is alice) and treats an empty perspective as none', async function () {
      const r = await get('/api/v1/users/Alice/presence?perspective=');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.userId, 'alice');
      assert.equal(r.body.perspective, null);
      assert.ok(Array.isArray(r.body.sources));
    });
  });

  describe('from the perspective of a watcher', function () {
    beforeEach(async function () { await start(); });

    it('alice herself: self, without the source list', async function () {
      const r = await presence('alice', 'alice');
      assert.deepEqual(r.body, { userId: 'alice', perspective: 'alice', visible: true, reason: 'self', state: 'dnd', text: 'Working from home', onThePhone: true, inMeeting: false });
    });

    for (const [who, subscription] of [['bob', 'both'], ['carol', 'from']] as const) {
      it(`${who} (subscription ${subscription}) sees alice's composed state`, async function () {
        const r = await presence('alice', who);
        assert.deepEqual(r.body, { userId: 'alice', perspective: who, visible: true, reason: 'subscribed', state: 'dnd', text: 'Working from home', onThePhone: true, inMeeting: false });
      });
    }

    for (const [who, subscription] of [['dave', 'to'], ['erin', 'none']] as const) {
      it(`${who} (subscription ${subscription}) sees alice as unavailable, nothing more`, async function () {
        const r = await presence('alice', who);
        assert.deepEqual(r.body, { userId: 'alice', perspective: who, visible: false, reason: 'not-subscribed', state: 'unavailable', text: null, onThePhone: false, inMeeting: false });
      });
    }

    it('a user with no roster item at all: not subscribed', async function () {
      await createUser(store, { userId: 'grace', password: 'pw' });
      const r = await presence('alice', 'grace');
      assert.equal(r.body.reason, 'not-subscribed');
      assert.equal(r.body.visible, false);
    });

    it('frank, subscribed but blocked by alice, sees nothing', async function () {
      const r = await presence('alice', 'frank');
      assert.deepEqual(r.body, { userId: 'alice', perspective: 'frank', visible: false, reason: 'blocked', state: 'unavailable', text: null, onThePhone: false, inMeeting: false });
    });

    it('the subscription is read from the owner\'s roster, not the watcher\'s', async function () {
      // dave's own roster says he lets alice see him; that does not let him see alice.
      await contact('dave', 'alice@example.com', 'from');
      assert.equal((await presence('alice', 'dave')).body.visible, false);
      assert.equal((await presence('dave', 'alice')).body.visible, true);
    });

    it('the perspective is prepared like a userId (Bob is bob)', async function () {
      const r = await presence('alice', 'BOB');
      assert.equal(r.body.perspective, 'bob');
      assert.equal(r.body.visible, true);
    });
  });

  describe('errors', function () {
    beforeEach(async function () { await start(); });

    it('a perspective longer than 128 characters: 400 naming the field', async function () {
      const e = await expectError(presence('alice', 'b'.repeat(129)), 400, 'IMP_VALIDATION', 'perspective');
      assert.match(e.message, /^perspective: at most 128 characters/);
    });

    it('128 characters are allowed, counted as characters, not bytes', async function () {
      await expectError(presence('alice', 'b'.repeat(128)), 404, 'IMP_USER_NOT_FOUND', 'perspective');
      await expectError(presence('alice', 'é'.repeat(128)), 404, 'IMP_USER_NOT_FOUND', 'perspective');
      await expectError(presence('alice', 'é'.repeat(129)), 400, 'IMP_VALIDATION', 'perspective');
    });

    it('a perspective that is not a user ID: 400 naming the field', async function () {
      for (const bad of ['bob@example.com', 'bob smith', 'a/b', '\u0007']) {
        const e = await expectError(presence('alice', bad), 400, 'IMP_VALIDATION', 'perspective');
        assert.match(e.message, /^perspective: not a user ID/, bad);
      }
    });

    it('the perspective given twice: 400', async function () {
      await expectError(get('/api/v1/users/alice/presence?perspective=bob&perspective=carol'), 400, 'IMP_VALIDATION', 'perspective');
    });

    it('an unknown perspective user: 404 naming perspective', async function () {
      const e = await expectError(presence('alice', 'nobody'), 404, 'IMP_USER_NOT_FOUND', 'perspective');
      assert.equal(e.message, 'perspective: no user nobody');
    });

    it('an unknown user: 404 naming userId, and no tuples asked for', async function () {
      const e = await expectError(presence('nobody'), 404, 'IMP_USER_NOT_FOUND', 'userId');
      assert.equal(e.message, 'userId: no user nobody');
      await expectError(presence('nobody', 'bob'), 404, 'IMP_USER_NOT_FOUND', 'userId');
      assert.deepEqual(asked, []);
    });

    it('an invalid userId: 400 naming userId', async function () {
      await expectError(presence('a b'), 400, 'IMP_VALIDATION', 'userId');
    });

    it('no token or a wrong one: 401', async function () {
      const none = await get('/api/v1/users/alice/presence', null);
      assert.equal(none.status, 401);
      assert.equal(err(none).code, 'IMP_UNAUTHORIZED');
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal((await get('/api/v1/users/alice/presence?perspective=bob', 'wrong')).status, 401);
      assert.deepEqual(asked, []);
    });

    it('a failing presence source is a 500 without detail', async function () {
      await app?.close();
      await start({ presence: async () => { throw new Error('router exploded: secret detail'); } });
      const r = await presence('alice');
      assert.equal(r.status, 500);
      assert.equal(err(r).code, 'IMP_INTERNAL');
      assert.doesNotMatch(r.text, /secret detail/);
    });
  });

  describe('wiring defaults', function () {
    it('without a presence source every user is unavailable', async function () {
      await start({ presence: undefined });
      const r = await presence('alice', 'bob');
      assert.deepEqual(r.body, { userId: 'alice', perspective: 'bob', visible: true, reason: 'subscribed', state: 'unavailable', text: null, onThePhone: false, inMeeting: false });
    });

    it('without a domain, bare JIDs are userId@localhost', async function () {
      await start({ domain: undefined });
      assert.equal((await presence('alice', 'bob')).body.visible, false);
      await contact('alice', 'bob@localhost', 'from');
      assert.equal((await presence('alice', 'bob')).body.visible, true);
    });

    it('the OpenAPI document describes the route', async function () {
      await start();
      const doc = (await get('/api/v1/openapi.json', null)).body as { paths: Record<string, { get?: { parameters?: Array<{ name: string }> } }>; components: { schemas: Record<string, unknown> } };
      const op = doc.paths['/api/v1/users/{userId}/presence']?.get;
      assert.ok(op);
      assert.deepEqual(op.parameters?.map((p) => p.name), ['userId', 'perspective']);
      assert.ok(doc.components.schemas.Presence);
    });
  });
});
