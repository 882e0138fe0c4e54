/**
 * What every Bus must do, run against each implementation by bus.test.ts:
 * a message from node A reaches node B's handler exactly once, bursts keep
 * their order (one by one and through sendMany), a node nobody listens on
 * answers false, two namespaces never see each other, close stops delivery,
 * and (where the transport lets a test write raw bytes) junk is dropped
 * without stopping what follows.
 */
import assert from 'node:assert/strict';
import type { Bus, BusMessage } from '../../src/bus/types.js';

/** A set of nodes sharing one transport, plus a second, separate one. */
export interface BusWorld {
  /** A bus for one more node on the shared transport (RedisBus: a new connection pair, same prefix). */
  node(): Promise<Bus>;
  /** A bus on another namespace of the same transport (RedisBus: another prefix). */
  elsewhere(): Promise<Bus>;
  /** Publishes raw bytes on a node's channel, bypassing the encoder (transports that have bytes only). */
  publishRaw?(nodeId: string, payload: string): Promise<void>;
  dispose(): Promise<void>;
}

/** Collects what a handler receives and lets a test wait for it. */
export class Inbox {
  readonly got: BusMessage[] = [];
  private waiters: Array<() => void> = [];
  readonly handler = (m: BusMessage): void => {
    this.got.push(m);
    for (const w of this.waiters.splice(0)) w();
  };

  /** Resolves once `n` messages have arrived in all; fails after `ms`. */
  waitFor(n: number, ms = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${n} messages, got ${this.got.length}`)), ms);
      const check = (): void => {
        if (this.got.length >= n) { clearTimeout(timer); resolve(); } else this.waiters.push(check);
      };
      check();
    });
  }
}

let fences = 0;

/**
 * Sends a marker after everything the test sent and waits for it: since a
 * sender's messages arrive in order, anything (or any duplicate) sent before
 * it has arrived by then. The marker is taken out of the inbox.
 */
export async function settle(sender: Bus, nodeId: string, inbox: Inbox): Promise<void> {
  const fence: BusMessage = { kind: 'close', to: 'fence@test', condition: `fence-${++fences}` };
  assert.equal(await sender.send(nodeId, fence), true, 'the fence could not be sent');
  const t0 = Date.now();
  for (;;) {
    const i = inbox.got.findIndex((m) => m.kind === 'close' && m.condition === fence.condition);
    if (i >= 0) {
      assert.equal(i, inbox.got.length - 1, 'a message arrived after the fence');
      inbox.got.splice(i, 1);
      return;
    }
    if (Date.now() - t0 > 5000) throw new Error('the fence never arrived');
    await inbox.waitFor(inbox.got.length + 1, 5000 - (Date.now() - t0));
  }
}

/** A stanza numbered `i`, with the characters JSON and XML care about. */
export function stanza(i: number): BusMessage {
  return { kind: 'stanza', to: `bob@example.com/r${i % 3}`, xml: `<message id="m${i}" type='chat'><body>n° ${i}: "é" &amp; \\ 😀 \n</body></message>` };
}

export function busConformance(name: string, makeWorld: () => Promise<BusWorld>): void {
  describe(`bus conformance: ${name}`, function () {
    this.timeout(15000);
    let world: BusWorld;
    let a: Bus;
    let b: Bus;
    let inbox: Inbox;

    beforeEach(async function () {
      world = await makeWorld();
      a = await world.node();
      b = await world.node();
      inbox = new Inbox();
      await b.listen('n2', inbox.handler);
    });
    afterEach(async function () { await world.dispose(); });

    it('delivers each kind of message from node A to node B exactly once, unchanged', async function () {
      const msgs: BusMessage[] = [
        stanza(1),
        { kind: 'carbon', to: 'bob@example.com/phone', xml: '<message><sent xmlns="urn:xmpp:carbons:2"/></message>' },
        { kind: 'roster', to: 'bob@example.com/phone', xml: '<iq type="set"><query xmlns="jabber:iq:roster"/></iq>' },
        { kind: 'blocklist', to: 'bob@example.com/phone', xml: '<iq type="set"><block xmlns="urn:xmpp:blocking"/></iq>' },
        { kind: 'close', to: 'bob@example.com/phone', condition: 'conflict', text: 'replaced by a new session' },
        { kind: 'close', to: 'bob@example.com/laptop', condition: 'policy-violation' },
        { kind: 'stanza-many', to: ['bob@example.com/phone', 'carol@example.com/desk', 'dave@example.com/ü'], xml: '<presence from="alice@example.com/x"><show>away</show></presence>' },
        { kind: 'stanza-many', to: [], xml: '<presence/>' },
      ];
      for (const m of msgs) assert.equal(await a.send('n2', m), true);
      await settle(a, 'n2', inbox);
      assert.deepEqual(inbox.got, msgs);
    });

    it('keeps the order of a burst of 1,000 sends, each delivered once', async function () {
      const msgs = Array.from({ length: 1000 }, (_, i) => stanza(i));
      const sent = await Promise.all(msgs.map((m) => a.send('n2', m)));
      assert.ok(sent.every((x) => x === true));
      await settle(a, 'n2', inbox);
      assert.deepEqual(inbox.got, msgs);
    });

    it('sendMany hands 1,000 messages to the handler one by one, in order, between the sends around it', async function () {
      assert.ok(a.sendMany, 'this bus has no sendMany');
      const batch = Array.from({ length: 1000 }, (_, i) => stanza(i));
      const before = stanza(-1);
      const after: BusMessage = { kind: 'stanza-many', to: ['x@example.com/1', 'y@example.com/2'], xml: '<presence/>' };
      const results = await Promise.all([a.send('n2', before), a.sendMany('n2', batch), a.send('n2', after)]);
      assert.deepEqual(results, [true, true, true]);
      await settle(a, 'n2', inbox);
      assert.deepEqual(inbox.got, [before, ...batch, after]);
    });

    it('sendMany of nothing only tells whether the node listens', async function () {
      assert.ok(a.sendMany);
      assert.equal(await a.sendMany('n2', []), true);
      assert.equal(await a.sendMany('nobody', []), false);
      await settle(a, 'n2', inbox);
      assert.deepEqual(inbox.got, []);
    });

    it('answers false for a node nobody listens on', async function () {
      assert.equal(await a.send('nobody', stanza(1)), false);
      assert.ok(a.sendMany);
      assert.equal(await a.sendMany('nobody', [stanza(1), stanza(2)]), false);
      await settle(a, 'n2', inbox);
      assert.deepEqual(inbox.got, []);
    });

    it('refuses a second listener for the same node on one bus', async function () {
      await assert.rejects(b.listen('n2', () => {}), /already listens/);
      assert.equal(await a.send('n2', stanza(1)), true);
      await settle(a, 'n2', inbox);
      assert.deepEqual(inbox.got, [stanza(1)], 'the first listener was replaced');
    });

    it('keeps two namespaces apart', async function () {
      const other = await world.elsewhere();
      const otherInbox = new Inbox();
      await other.listen('n2', otherInbox.handler);
      await other.listen('only-there', () => assert.fail('crossed namespaces'));

      assert.equal(await a.send('n2', stanza(1)), true);
      assert.equal(await other.send('n2', stanza(2)), true);
      assert.equal(await a.send('only-there', stanza(3)), false);
      assert.equal(await other.send('nobody', stanza(4)), false);
      await settle(a, 'n2', inbox);
      await settle(other, 'n2', otherInbox);
      assert.deepEqual(inbox.got, [stanza(1)]);
      assert.deepEqual(otherInbox.got, [stanza(2)]);
    });

    it('stops delivery once the listening bus is closed, even of messages already on their way', async function () {
      assert.equal(await a.send('n2', stanza(0)), true);
      await settle(a, 'n2', inbox);
      const inFlight = Array.from({ length: 200 }, (_, i) => a.send('n2', stanza(i + 1)).catch(() => false));
      await b.close();
      const seen = inbox.got.length;
      assert.equal(await a.send('n2', stanza(999)), false);
      await Promise.all(inFlight);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(inbox.got.length, seen, 'a message was delivered after close()');
      assert.deepEqual(inbox.got, Array.from({ length: seen }, (_, i) => stanza(i)), 'what arrived before close was not a prefix in order');
    });

    it('drops malformed payloads and keeps delivering what follows', async function () {
      if (!world.publishRaw) this.skip();
      const raw = world.publishRaw.bind(world);
      const good = stanza(7);
      for (const junk of [
        'not json', '', '{"kind":"stanza","to":"a","xml":"b"}', 'null', '[[', '["s","a","b"]',
        '[["s",1,"<x/>"]]', '[["zz","a","b"]]', '[null,7,"s"]', '[["m",["a",3],"<x/>"]]', '[["x","a","conflict",false]]', '[["s","a"]]',
      ]) await raw('n2', junk);
      // In a batch, the messages that do decode are still delivered, in order.
      await raw('n2', `[${JSON.stringify(['s', good.to, (good as { xml: string }).xml])},["s",5],["c","bob@example.com/r","<c/>"]]`);
      assert.equal(await a.send('n2', stanza(8)), true);
      await settle(a, 'n2', inbox);
      assert.deepEqual(inbox.got, [good, { kind: 'carbon', to: 'bob@example.com/r', xml: '<c/>' }, stanza(8)]);
    });
  });
}
