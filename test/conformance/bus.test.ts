/**
 * Runs the bus conformance suite against LocalBus and RedisBus (two RedisBus
 * instances on one Redis under a fresh prefix = two nodes), plus what is
 * particular to Redis: the channel names and the compact wire format, one
 * PUBLISH per sendMany, a throwing handler, what is logged, open() against
 * nothing, and an outage of a private redis-server this file stops and
 * restarts.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { LocalBus } from '../../src/bus/local.js';
import { RedisBus, channel } from '../../src/bus/redis.js';
import type { BusMessage } from '../../src/bus/types.js';
import { isImpError, type ErrorCode } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/util/log.js';
import { RedisServer, freePort, freshPrefix, testRedisUrl } from '../helpers/redis-server.js';
import { Inbox, busConformance, settle, stanza } from './bus.conformance.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isImpError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  });
}

/** Runs a call that must fail with IMP_STORE_UNAVAILABLE and returns how long it took. */
async function failsFast(call: () => Promise<unknown>): Promise<number> {
  const t0 = Date.now();
  await rejectsWith(call(), 'IMP_STORE_UNAVAILABLE');
  return Date.now() - t0;
}

/** A logger whose lines the test can read. */
function capture(): { log: Logger; lines(): Array<Record<string, unknown>> } {
  const out: string[] = [];
  const dest = new Writable({ write(chunk, _enc, cb) { out.push(String(chunk)); cb(); } });
  return {
    log: createLogger('debug', dest),
    lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A plain subscriber on one channel, to see the bytes the bus publishes. */
async function tap(url: string, ch: string): Promise<{ payloads: string[]; close(): Promise<void> }> {
  const r = new Redis(url);
  const payloads: string[] = [];
  r.on('message', (_c: string, p: string) => payloads.push(p));
  await r.subscribe(ch);
  return { payloads, close: async () => { await r.quit(); } };
}

busConformance('local', async () => {
  const shared = new LocalBus();
  const others: LocalBus[] = [];
  return {
    node: async () => shared,
    elsewhere: async () => { const o = new LocalBus(); others.push(o); return o; },
    dispose: async () => { for (const bus of [shared, ...others]) await bus.close(); },
  };
});

describe('redis bus', function () {
  let admin: Redis;
  const opened: RedisBus[] = [];
  const open = async (prefix: string, extra: { log?: Logger; maxPayloadChars?: number } = {}): Promise<RedisBus> => {
    const bus = await RedisBus.open({ url: testRedisUrl(), prefix, ...extra });
    opened.push(bus);
    return bus;
  };
  before(function () { admin = new Redis(testRedisUrl()); });
  after(async function () { await admin.quit(); });
  afterEach(async function () { await Promise.all(opened.splice(0).map((b) => b.close())); });

  busConformance('redis', async () => {
    const prefix = freshPrefix('bus');
    const otherPrefix = freshPrefix('bus');
    return {
      node: () => open(prefix),
      elsewhere: () => open(otherPrefix),
      publishRaw: async (nodeId, payload) => { await admin.publish(channel(prefix, nodeId), payload); },
      dispose: async () => { await Promise.all(opened.splice(0).map((b) => b.close())); },
    };
  });

  describe('redis bus specifics', function () {
    it('publishes on <prefix>bus:<nodeId>, one compact JSON array per send', async function () {
      const prefix = freshPrefix('bus');
      const a = await open(prefix);
      const t = await tap(testRedisUrl(), `${prefix}bus:n9`);
      try {
        const msgs: BusMessage[] = [
          { kind: 'stanza', to: 'bob@example.com/phone', xml: '<message/>' },
          { kind: 'carbon', to: 'bob@example.com/phone', xml: '<c/>' },
          { kind: 'roster', to: 'bob@example.com/phone', xml: '<r/>' },
          { kind: 'blocklist', to: 'bob@example.com/phone', xml: '<b/>' },
          { kind: 'close', to: 'bob@example.com/phone', condition: 'conflict' },
          { kind: 'close', to: 'bob@example.com/phone', condition: 'conflict', text: 'replaced' },
          { kind: 'stanza-many', to: ['a@example.com/1', 'b@example.com/2'], xml: '<presence/>' },
        ];
        for (const m of msgs) assert.equal(await a.send('n9', m), true);
        await a.send('n9', stanza(0));
        while (t.payloads.length < msgs.length + 1) await sleep(5);
        assert.deepEqual(t.payloads.slice(0, msgs.length), [
          '[["s","bob@example.com/phone","<message/>"]]',
          '[["c","bob@example.com/phone","<c/>"]]',
          '[["r","bob@example.com/phone","<r/>"]]',
          '[["b","bob@example.com/phone","<b/>"]]',
          '[["x","bob@example.com/phone","conflict"]]',
          '[["x","bob@example.com/phone","conflict","replaced"]]',
          '[["m",["a@example.com/1","b@example.com/2"],"<presence/>"]]',
        ]);
      } finally { await t.close(); }
    });

    it('sendMany is one PUBLISH for many messages, split only past maxPayloadChars', async function () {
      const prefix = freshPrefix('bus');
      const a = await open(prefix);
      const small = await open(prefix, { maxPayloadChars: 1000 });
      const t = await tap(testRedisUrl(), channel(prefix, 'n9'));
      try {
        const batch = Array.from({ length: 100 }, (_, i) => stanza(i));
        assert.equal(await a.sendMany('n9', batch), true);
        while (t.payloads.length < 1) await sleep(5);
        assert.equal(t.payloads.length, 1);
        assert.equal((JSON.parse(t.payloads[0]!) as unknown[]).length, 100);

        t.payloads.length = 0;
        assert.equal(await small.sendMany('n9', batch), true);
        const count = (): number => t.payloads.reduce((n, p) => n + (JSON.parse(p) as unknown[]).length, 0);
        while (count() < 100) await sleep(5);
        assert.ok(t.payloads.length > 1, 'one payload of more than maxPayloadChars');
        for (const p of t.payloads) assert.ok(p.length <= 1000, `a payload of ${p.length} chars`);
        const tuples = t.payloads.flatMap((p) => JSON.parse(p) as unknown[]);
        assert.deepEqual(tuples.map((x) => (x as string[])[2]), batch.map((m) => (m as { xml: string }).xml));
      } finally { await t.close(); }
    });

    it('survives a throwing handler: the messages after it still arrive, the error is logged', async function () {
      const prefix = freshPrefix('bus');
      const cap = capture();
      const a = await open(prefix);
      const b = await open(prefix, { log: cap.log });
      const inbox = new Inbox();
      await b.listen('n2', (m) => {
        if (m.kind === 'stanza' && m.to.endsWith('/r1')) throw new Error('handler bug');
        inbox.handler(m);
      });
      assert.ok(await a.sendMany('n2', [stanza(0), stanza(1), stanza(2)]));
      assert.ok(await a.send('n2', stanza(4)));
      assert.ok(await a.send('n2', stanza(3)));
      await settle(a, 'n2', inbox);
      assert.deepEqual(inbox.got, [stanza(0), stanza(2), stanza(3)]);
      assert.equal(cap.lines().filter((l) => l.msg === 'bus handler threw').length, 2);
    });

    it('logs what it drops, with the channel and the start of the payload', async function () {
      const prefix = freshPrefix('bus');
      const cap = capture();
      const a = await open(prefix);
      const b = await open(prefix, { log: cap.log });
      const inbox = new Inbox();
      await b.listen('n2', inbox.handler);
      await admin.publish(channel(prefix, 'n2'), 'x'.repeat(1000));
      await admin.publish(channel(prefix, 'n2'), '[["s","a@example.com/r","<ok/>"],["?"]]');
      await settle(a, 'n2', inbox);
      assert.deepEqual(inbox.got, [{ kind: 'stanza', to: 'a@example.com/r', xml: '<ok/>' }]);
      const warned = cap.lines().filter((l) => l.level === 40);
      assert.equal(warned.length, 2);
      assert.equal(warned[0]!.channel, channel(prefix, 'n2'));
      assert.equal(warned[0]!.payload, 'x'.repeat(200));
      assert.equal(warned[1]!.dropped, 1);
    });

    it('open() reports a Redis that is not there promptly, naming the URL without its password', async function () {
      const port = await freePort();
      const t0 = Date.now();
      await assert.rejects(RedisBus.open({ url: `redis://:hunter2@127.0.0.1:${port}`, prefix: 'x:', connectTimeoutMs: 1000 }), (err: unknown) => {
        assert.ok(isImpError(err, 'IMP_STORE_UNAVAILABLE'), String(err));
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      });
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
      await rejectsWith(RedisBus.open({ url: 'http://127.0.0.1:6379', prefix: 'x:' }), 'IMP_CONFIG_INVALID');
    });

    it('after close, calls fail with IMP_STORE_UNAVAILABLE and a second close is harmless', async function () {
      const bus = await open(freshPrefix('bus'));
      await bus.close();
      await bus.close();
      await rejectsWith(bus.send('n1', stanza(0)), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(bus.sendMany('n1', []), 'IMP_STORE_UNAVAILABLE');
      await rejectsWith(bus.listen('n1', () => {}), 'IMP_STORE_UNAVAILABLE');
    });
  });
});

describe('redis bus: outage and recovery', function () {
  this.timeout(30000);
  let server: RedisServer;
  let a: RedisBus;
  let b: RedisBus;
  const inbox = new Inbox();
  const cap = capture();

  before(async function () {
    server = await RedisServer.start();
    const prefix = freshPrefix('bus-outage');
    a = await RedisBus.open({ url: server.url, prefix });
    b = await RedisBus.open({ url: server.url, prefix, log: cap.log });
    await b.listen('n2', inbox.handler);
  });
  after(async function () {
    await a?.close();
    await b?.close();
    await server?.destroy();
  });

  it('fails fast while Redis is down, and messages flow again once it is back without listen() again', async function () {
    assert.equal(await a.send('n2', stanza(0)), true);
    await inbox.waitFor(1);

    await server.stop();
    const calls: Array<() => Promise<unknown>> = [
      () => a.send('n2', stanza(1)),
      () => a.sendMany('n2', [stanza(2), stanza(3)]),
      () => a.sendMany('n2', []),
      () => b.listen('n3', () => {}),
    ];
    for (const call of calls) {
      const took = await failsFast(call);
      assert.ok(took < 500, `a call took ${took} ms to fail`);
    }
    // Stay down across several reconnect attempts: still no queueing, no hanging.
    await sleep(1500);
    for (const call of calls) {
      const took = await failsFast(call);
      assert.ok(took < 500, `a call took ${took} ms to fail after a while`);
    }

    await server.start();
    // The publisher may be back before the subscriber has subscribed again: until then a send answers false.
    const t0 = Date.now();
    let delivered: BusMessage | undefined;
    for (let i = 10; !delivered; i++) {
      assert.ok(Date.now() - t0 < 10000, 'messages did not flow again within 10 s');
      const m = stanza(i);
      if (await a.send('n2', m).catch(() => false)) delivered = m; else await sleep(20);
    }
    const burst = Array.from({ length: 100 }, (_, k) => stanza(1000 + k));
    assert.equal(await a.sendMany('n2', burst), true);
    await settle(a, 'n2', inbox);
    // Nothing sent during the outage turns up late (at most once, nothing replayed), nothing is doubled.
    assert.deepEqual(inbox.got, [stanza(0), delivered, ...burst]);

    // The listen() refused during the outage left nothing behind.
    const n3 = new Inbox();
    await b.listen('n3', n3.handler);
    assert.equal(await a.send('n3', stanza(5)), true);
    await settle(a, 'n3', n3);
    assert.deepEqual(n3.got, [stanza(5)]);

    const msgs = cap.lines().map((l) => l.msg);
    assert.ok(msgs.some((m) => typeof m === 'string' && m.startsWith('redis bus connection')), msgs.join(' | '));
    assert.ok(msgs.some((m) => typeof m === 'string' && m.startsWith('redis bus back')), msgs.join(' | '));
  });
});

describe('redis bus: a frozen Redis (no answer, no reset)', function () {
  this.timeout(30000);
  let server: RedisServer;
  let pid = 0;
  let a: RedisBus;
  let b: RedisBus;
  const inbox = new Inbox();
  const cap = capture();
  const resume = (): void => { if (pid) { try { process.kill(pid, 'SIGCONT'); } catch { /* gone already */ } } };

  before(async function () {
    server = await RedisServer.start();
    const admin = new Redis(server.url);
    pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
    await admin.quit();
    assert.ok(pid > 0, 'no redis-server pid');
    const prefix = freshPrefix('bus-frozen');
    a = await RedisBus.open({ url: server.url, prefix, socketTimeoutMs: 500 });
    b = await RedisBus.open({ url: server.url, prefix, socketTimeoutMs: 500, pingIntervalMs: 200, log: cap.log });
    await b.listen('n2', inbox.handler);
  });
  after(async function () {
    resume();
    await a?.close();
    await b?.close();
    await server?.destroy();
  });

  it('send gives up after socketTimeoutMs, the idle subscriber notices through its ping, both recover', async function () {
    assert.equal(await a.send('n2', stanza(0)), true);
    await inbox.waitFor(1);

    process.kill(pid, 'SIGSTOP');
    try {
      const took = await failsFast(() => a.send('n2', stanza(1)));
      assert.ok(took >= 400 && took < 1500, `send failed after ${took} ms`);
      // Nothing is sent on the subscriber connection but the ping; it must still find out.
      const t0 = Date.now();
      while (!cap.lines().some((l) => l.role === 'subscriber' && typeof l.msg === 'string' && l.msg.startsWith('redis bus connection'))) {
        assert.ok(Date.now() - t0 < 3000, 'the subscriber did not notice the frozen Redis within 3 s');
        await sleep(50);
      }
    } finally { resume(); }

    const t0 = Date.now();
    let delivered: BusMessage | undefined;
    for (let i = 10; !delivered; i++) {
      assert.ok(Date.now() - t0 < 10000, 'messages did not flow again within 10 s');
      const m = stanza(i);
      if (await a.send('n2', m).catch(() => false)) delivered = m; else await sleep(20);
    }
    await settle(a, 'n2', inbox);
    // The send that timed out may or may not have reached Redis before the freeze: at most once either way.
    const got = inbox.got.filter((m) => !(m.kind === 'stanza' && m.xml === (stanza(1) as { xml: string }).xml));
    assert.deepEqual(got, [stanza(0), delivered]);
  });
});
