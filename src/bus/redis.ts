/**
 * RedisBus: the bus between the nodes that share one Redis (Redis pub/sub).
 * Each node listens on its own channel `<prefix>bus:<nodeId>`; a sender
 * PUBLISHes there, and PUBLISH's receiver count tells it whether that node is
 * alive (0: nobody listens, the node's sessions are stale). docs/bus.md holds
 * the channel names, the wire format and the delivery guarantees.
 *
 * Two connections, because a subscribed connection is reserved for pub/sub:
 * one publishes (and answers NUMSUB), one subscribes.
 *
 * Connection policy, as for the Redis store: while Redis is away a send fails
 * at once with IMP_STORE_UNAVAILABLE instead of queueing (no offline queue,
 * nothing resent after a reconnect: a stanza delivered late and out of order
 * is worse than one reported lost). Reconnection never gives up, and the
 * subscriber's channels are subscribed again by ioredis (autoResubscribe), so
 * a node comes back on the bus without calling listen() again.
 */
import { Redis } from 'ioredis';
import { ImpError, storeUnavailable } from '../errors.js';
import type { Logger } from '../util/log.js';
import { connectOrFail, newRedis, redactUrl } from '../store/redis-client.js';
import type { Bus, BusHandler, BusMessage } from './types.js';

/**
 * The channel a node listens on. Belongs in src/store/redis-keys.ts (every
 * Redis name is built there); kept here until that file is free.
 */
export function channel(prefix: string, nodeId: string): string {
  return `${prefix}bus:${nodeId}`;
}

export interface RedisBusOptions {
  url: string;
  /** The same prefix as the store's keys (e.g. `imp:`). */
  prefix: string;
  log?: Logger;
  /** How long open() waits for both connections before giving up (default 3000 ms). */
  connectTimeoutMs?: number;
  /** A connection that answers nothing for this long while a command waits is treated as lost (default 5000 ms). */
  socketTimeoutMs?: number;
  /**
   * How often the idle subscriber connection is pinged (default 10000 ms, 0 = never).
   * A subscriber sends nothing by itself, so without this a silently dead
   * connection would go unnoticed while Redis still counts it as a receiver.
   */
  pingIntervalMs?: number;
  /** sendMany splits its payload into PUBLISHes of about this many characters (default 1 MiB). */
  maxPayloadChars?: number;
}

// ---- wire format: a JSON array of tuples, one per message (docs/bus.md) ----

type Tuple = [string, ...unknown[]];

function encode(m: BusMessage): Tuple {
  switch (m.kind) {
    case 'stanza': return ['s', m.to, m.xml];
    case 'carbon': return ['c', m.to, m.xml];
    case 'roster': return ['r', m.to, m.xml];
    case 'blocklist': return ['b', m.to, m.xml];
    case 'close': return m.text === undefined ? ['x', m.to, m.condition] : ['x', m.to, m.condition, m.text];
    case 'stanza-many': return ['m', m.to, m.xml];
  }
  throw new ImpError('IMP_INTERNAL', `unknown bus message kind ${String((m as { kind: unknown }).kind)}`);
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** One tuple back to a message; null when it is not one we know (dropped, never thrown). Extra trailing fields are ignored. */
function decode(t: unknown): BusMessage | null {
  if (!Array.isArray(t)) return null;
  const [k, to, a, b] = t as unknown[];
  switch (k) {
    case 's': return isString(to) && isString(a) ? { kind: 'stanza', to, xml: a } : null;
    case 'c': return isString(to) && isString(a) ? { kind: 'carbon', to, xml: a } : null;
    case 'r': return isString(to) && isString(a) ? { kind: 'roster', to, xml: a } : null;
    case 'b': return isString(to) && isString(a) ? { kind: 'blocklist', to, xml: a } : null;
    case 'x':
      if (!isString(to) || !isString(a)) return null;
      if (b === undefined) return { kind: 'close', to, condition: a };
      return isString(b) ? { kind: 'close', to, condition: a, text: b } : null;
    case 'm': return Array.isArray(to) && to.every(isString) && isString(a) ? { kind: 'stanza-many', to, xml: a } : null;
    default: return null;
  }
}

export class RedisBus implements Bus {
  private readonly handlers = new Map<string, BusHandler>();
  private readonly maxPayloadChars: number;
  private pinger: NodeJS.Timeout | undefined;
  private closed = false;
  private subscribed = false;

  /**
   * Connects both connections and resolves once Redis answers on both.
   * Unreachable within connectTimeoutMs → rejects with IMP_STORE_UNAVAILABLE
   * naming the URL, and stops trying (a wrong URL is reported, not retried).
   */
  static async open(opts: RedisBusOptions): Promise<RedisBus> {
    const where = redactUrl(opts.url);
    const pub = newRedis(opts.url, opts);
    const sub = newRedis(opts.url, { ...opts, autoResubscribe: true });
    await connectOrFail([pub, sub], opts.url, ' for the bus', opts.connectTimeoutMs);
    const bus = new RedisBus(pub, sub, opts);
    opts.log?.info({ redis: where, prefix: opts.prefix }, 'redis bus connected');
    return bus;
  }

  private constructor(private readonly pub: Redis, private readonly sub: Redis, private readonly opts: RedisBusOptions) {
    this.maxPayloadChars = opts.maxPayloadChars ?? 1 << 20;
    this.watch(pub, 'publisher');
    this.watch(sub, 'subscriber');
    sub.on('message', (ch: string, payload: string) => this.receive(ch, payload));
    const every = opts.pingIntervalMs ?? 10000;
    if (every > 0) {
      this.pinger = setInterval(() => {
        // A lost reply trips socketTimeout, which drops the socket; the reconnect then subscribes again.
        if (sub.status === 'ready') sub.ping().catch(() => {});
      }, every);
      this.pinger.unref();
    }
  }

  /** One warning per outage per connection, one line when it is back. */
  private watch(c: Redis, role: string): void {
    let down = false;
    c.on('error', (err: Error) => {
      if (this.closed || down) return;
      down = true;
      this.opts.log?.warn({ err: err.message, role }, 'redis bus connection error');
    });
    c.on('close', () => {
      if (this.closed || down) return;
      down = true;
      this.opts.log?.warn({ role }, 'redis bus connection lost: sends fail with IMP_STORE_UNAVAILABLE until it is back');
    });
    c.on('ready', () => {
      if (this.closed || !down) return;
      down = false;
      this.opts.log?.info({ role }, role === 'subscriber' ? 'redis bus back: channels subscribed again' : 'redis bus back');
    });
  }

  async send(nodeId: string, msg: BusMessage): Promise<boolean> {
    const payload = `[${JSON.stringify(encode(msg))}]`;
    return (await this.publish(channel(this.opts.prefix, nodeId), payload)) > 0;
  }

  async sendMany(nodeId: string, msgs: BusMessage[]): Promise<boolean> {
    const ch = channel(this.opts.prefix, nodeId);
    if (msgs.length === 0) return this.listening(ch);
    // Chunks go out back to back on one connection, so Redis sees (and relays) them in order.
    const counts = await Promise.all(this.chunks(msgs).map((p) => this.publish(ch, p)));
    return counts.every((n) => n > 0);
  }

  async listen(nodeId: string, handler: BusHandler): Promise<void> {
    if (this.closed) throw storeUnavailable('the bus is closed');
    const ch = channel(this.opts.prefix, nodeId);
    if (this.handlers.has(ch)) throw new ImpError('IMP_INTERNAL', `node ${nodeId} already listens on this bus`);
    this.handlers.set(ch, handler);
    try {
      await this.sub.subscribe(ch);
      this.subscribed = true;
    } catch (err) {
      this.handlers.delete(ch);
      throw storeUnavailable(err);
    }
  }

  /** Stops delivery at once; once it resolves, sends to this bus's nodes answer false. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pinger);
    this.handlers.clear();
    await Promise.all([shut(this.sub, this.subscribed), shut(this.pub, false)]);
  }

  private async publish(ch: string, payload: string): Promise<number> {
    if (this.closed) throw storeUnavailable('the bus is closed');
    try {
      return await this.pub.publish(ch, payload);
    } catch (err) {
      throw storeUnavailable(err);
    }
  }

  private async listening(ch: string): Promise<boolean> {
    if (this.closed) throw storeUnavailable('the bus is closed');
    try {
      const reply = await this.pub.pubsub('NUMSUB', ch) as unknown[];
      return Number(reply[1]) > 0;
    } catch (err) {
      throw storeUnavailable(err);
    }
  }

  /** The messages as JSON arrays of at most about maxPayloadChars each (a larger single message travels alone). */
  private chunks(msgs: BusMessage[]): string[] {
    const out: string[] = [];
    let parts: string[] = [];
    let size = 0;
    for (const m of msgs) {
      const s = JSON.stringify(encode(m));
      if (parts.length > 0 && size + s.length + 1 > this.maxPayloadChars) {
        out.push(`[${parts.join(',')}]`);
        parts = [];
        size = 0;
      }
      parts.push(s);
      size += s.length + 1;
    }
    out.push(`[${parts.join(',')}]`);
    return out;
  }

  /** One payload from the channel: decoded at the edge, handed over message by message; junk is logged and dropped. */
  private receive(ch: string, payload: string): void {
    const handler = this.handlers.get(ch);
    if (!handler) return;
    let items: unknown;
    try { items = JSON.parse(payload); } catch { items = undefined; }
    if (!Array.isArray(items)) {
      this.opts.log?.warn({ channel: ch, payload: payload.slice(0, 200) }, 'bus payload is not a JSON array: dropped');
      return;
    }
    let dropped = 0;
    for (const item of items) {
      if (this.closed) return;
      const msg = decode(item);
      if (!msg) { dropped++; continue; }
      try {
        handler(msg);
      } catch (err) {
        // A throwing handler must not cost the messages after it, nor (thrown into ioredis) the connection.
        this.opts.log?.error({ err, channel: ch, kind: msg.kind }, 'bus handler threw');
      }
    }
    if (dropped > 0) {
      this.opts.log?.warn({ channel: ch, dropped, payload: payload.slice(0, 200) }, 'bus payload held unknown or malformed messages: dropped them');
    }
  }
}

async function shut(c: Redis, unsubscribe: boolean): Promise<void> {
  if (c.status === 'ready') {
    try {
      // Unsubscribing first means Redis counts this node out before close() resolves (QUIT frees the client lazily).
      if (unsubscribe) await c.unsubscribe();
      await c.quit();
      return;
    } catch { /* fall through to a hard disconnect */ }
  }
  c.disconnect();
}
