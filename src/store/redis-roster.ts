/**
 * Rosters, block lists and last presence in Redis (keys from redis-keys.ts,
 * documented in docs/redis-keys.md). Every roster change is the one script
 * impRosterApply, which checks the limits and writes the item, its version,
 * its watcher and hidden-set entries together; reads of several keys go in
 * one MULTI so they see one moment. Block lists and last presence are single
 * keys, changed by plain commands.
 */
import {
  compareJids, copyItem, grantsPresence, normalizeLimits, pairWrite, uniqueJids,
  type RosterCounts, type RosterWrite,
} from './memory-roster.js';
import type { ChainableCommander } from 'ioredis';
import { exec, mapError, q, type ScriptedRedis } from './redis-client.js';
import type { RedisKeys } from './redis-keys.js';
import type {
  BlockStore, LastPresence, PresenceStore, Roster, RosterChange, RosterItem, RosterLimits, RosterPairSide,
  RosterRefusal, RosterStore,
} from './roster-types.js';

/** The stored form: the whole item, jid included, so HVALS alone gives a roster (no hash-to-object step). */
function encodeItem(i: RosterItem): string {
  return JSON.stringify({
    jid: i.jid, name: i.name, groups: i.groups, subscription: i.subscription,
    ask: i.ask, pendingIn: i.pendingIn, approved: i.approved, hidden: i.hidden,
  });
}

function decodeItem(json: string): RosterItem {
  return copyItem(JSON.parse(json) as RosterItem);
}

const change = (c: RosterChange): RosterChange => ({ version: c.version, item: c.item });

/**
 * ioredis queues a MULTI … EXEC block inside a pipeline (the pipeline's own
 * exec() after a multi() queues EXEC instead of sending); its types do not say so.
 */
type TxPipeline = ChainableCommander & { multi(): ChainableCommander };

interface PendingImport { userId: string; items: RosterItem[]; resolve: () => void; reject: (e: unknown) => void }

export class RedisRosters implements RosterStore {
  /** importItems calls waiting for the next flush (one pipeline for all of them). */
  private imports: PendingImport[] | null = null;

  constructor(private readonly r: ScriptedRedis, private readonly k: RedisKeys) {}

  /**
   * Runs writes through impRosterApply: either a refusal (nothing written) or
   * one change per write, in order, each with whether it wrote anything.
   */
  private async apply(writes: RosterWrite[], limits: RosterLimits): Promise<Array<RosterChange & { wrote: boolean }> | RosterRefusal> {
    const { maxContacts, maxWatchers } = normalizeLimits(limits);
    const keys: string[] = [];
    const args: (string | number)[] = [maxContacts, maxWatchers];
    for (const w of writes) {
      keys.push(...this.k.rosterKeys(w.userId));
      if (w.item === null) args.push(w.jid, '', '0', '0');
      else args.push(w.jid, encodeItem(w.item), w.item.hidden ? '0' : '1', grantsPresence(w.item.subscription) ? '1' : '0');
    }
    const [status, ...rest] = await q(this.r.impRosterApply(keys.length, ...keys, ...args)) as number[];
    if (status !== 0) {
      return rest[0] === 1
        ? { refused: 'max-contacts', limit: maxContacts }
        : { refused: 'max-watchers', limit: maxWatchers, userId: writes[status - 1]!.userId };
    }
    return writes.map((w, i) => ({ version: rest[2 * i]!, item: w.item && copyItem(w.item), wrote: rest[2 * i + 1] === 1 }));
  }

  async get(userId: string): Promise<Roster> {
    const [items, version] = await exec(this.r.multi().hvals(this.k.roster(userId)).get(this.k.rosterVersion(userId)));
    return {
      version: Number(version ?? 0),
      items: (items as string[]).map(decodeItem).sort((a, b) => compareJids(a.jid, b.jid)),
    };
  }

  async getItem(userId: string, jid: string): Promise<RosterItem | null> {
    const json = await q(this.r.hget(this.k.roster(userId), jid));
    return json === null ? null : decodeItem(json);
  }

  async put(userId: string, item: RosterItem, limits: RosterLimits): Promise<RosterChange | RosterRefusal> {
    const out = await this.apply([{ userId, jid: item.jid, item }], limits);
    return Array.isArray(out) ? change(out[0]!) : out;
  }

  async remove(userId: string, jid: string): Promise<RosterChange | null> {
    // A removal adds nothing, so no limit can refuse it.
    const out = await this.apply([{ userId, jid, item: null }], { maxContacts: Infinity, maxWatchers: Infinity });
    return Array.isArray(out) && out[0]!.wrote ? change(out[0]!) : null;
  }

  async putPair(a: RosterPairSide, b: RosterPairSide, limits: RosterLimits): Promise<[RosterChange, RosterChange] | RosterRefusal> {
    const out = await this.apply([pairWrite(a), pairWrite(b)], limits);
    return Array.isArray(out) ? [change(out[0]!), change(out[1]!)] : out;
  }

  async watchers(userId: string): Promise<string[]> {
    return q(this.r.smembers(this.k.watchers(userId)));
  }

  /** The fan-out hot path: one pipelined SMEMBERS per distinct user, one round trip, no script. */
  async watchersOfMany(userIds: string[]): Promise<Map<string, string[]>> {
    const ids = [...new Set(userIds)];
    if (ids.length === 0) return new Map();
    const p = this.r.pipeline();
    for (const id of ids) p.smembers(this.k.watchers(id));
    const replies = await exec(p);
    return new Map(ids.map((id, i) => [id, replies[i] as string[]]));
  }

  async counts(userId: string): Promise<RosterCounts> {
    const [items, hidden, watchers] = await exec(this.r.multi()
      .hlen(this.k.roster(userId)).scard(this.k.rosterHidden(userId)).scard(this.k.watchers(userId)));
    return { contacts: (items as number) - (hidden as number), watchers: watchers as number };
  }

  async clear(userId: string): Promise<void> {
    // One DEL of several keys is atomic: no script needed.
    await q(this.r.del(...this.k.rosterSide(userId)));
  }

  /** Queued until the event loop turns, so that every import made meanwhile travels in one pipeline. */
  importItems(userId: string, items: RosterItem[]): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.imports) {
        this.imports = [];
        setImmediate(() => void this.flushImports());
      }
      this.imports.push({ userId, items: items.map(copyItem), resolve, reject });
    });
  }

  /**
   * One pipeline, one MULTI per user (atomic per user, not across users): DEL
   * of roster, watchers and hidden set, then HSET of every item, SADD of the
   * from/both JIDs and of the hidden ones, INCR of the version.
   */
  private async flushImports(): Promise<void> {
    const batch = this.imports ?? [];
    this.imports = null;
    const p = this.r.pipeline() as TxPipeline;
    const spans: number[] = [];
    for (const { userId, items } of batch) {
      const [roster, version, watchers, hidden] = this.k.rosterKeys(userId);
      const byJid = new Map(items.map((i) => [i.jid, i]));
      const fields: string[] = [];
      const watching: string[] = [];
      const hiding: string[] = [];
      for (const [jid, i] of byJid) {
        fields.push(jid, encodeItem(i));
        if (grantsPresence(i.subscription)) watching.push(jid);
        if (i.hidden) hiding.push(jid);
      }
      let n = 2;
      p.multi().del(roster, watchers, hidden);
      if (fields.length) { p.hset(roster, ...fields); n++; }
      if (watching.length) { p.sadd(watchers, ...watching); n++; }
      if (hiding.length) { p.sadd(hidden, ...hiding); n++; }
      void p.incr(version).exec();
      // MULTI, the commands, EXEC: each has a reply in the pipeline's answer.
      spans.push(n + 2);
    }
    let replies: Array<[Error | null, unknown]>;
    try {
      const out = await p.exec();
      if (!out) throw new Error('pipeline aborted');
      replies = out;
    } catch (e) {
      const err = mapError(e);
      for (const b of batch) b.reject(err);
      return;
    }
    let at = 0;
    batch.forEach((b, i) => {
      const mine = replies.slice(at, at + spans[i]!);
      at += spans[i]!;
      const bad = mine.find(([err]) => err !== null);
      if (bad) b.reject(mapError(bad[0])); else b.resolve();
    });
  }
}

export class RedisBlocks implements BlockStore {
  constructor(private readonly r: ScriptedRedis, private readonly k: RedisKeys) {}

  async list(userId: string): Promise<string[]> {
    return (await q(this.r.smembers(this.k.blocks(userId)))).sort(compareJids);
  }

  async add(userId: string, jids: string[]): Promise<string[]> {
    const js = uniqueJids(jids);
    if (js.length === 0) return [];
    // One SADD per JID in a MULTI: each reply says whether that JID is new.
    const m = this.r.multi();
    for (const j of js) m.sadd(this.k.blocks(userId), j);
    const replies = await exec(m);
    return js.filter((_, i) => replies[i] === 1);
  }

  async remove(userId: string, jids: string[] | null): Promise<string[]> {
    const key = this.k.blocks(userId);
    if (jids === null) {
      const [was] = await exec(this.r.multi().smembers(key).del(key));
      return (was as string[]).sort(compareJids);
    }
    const js = uniqueJids(jids);
    if (js.length === 0) return [];
    const m = this.r.multi();
    for (const j of js) m.srem(key, j);
    const replies = await exec(m);
    return js.filter((_, i) => replies[i] === 1);
  }

  async isBlocked(userId: string, jid: string): Promise<boolean> {
    return (await q(this.r.sismember(this.k.blocks(userId), jid))) === 1;
  }
}

export class RedisPresence implements PresenceStore {
  constructor(private readonly r: ScriptedRedis, private readonly k: RedisKeys) {}

  async setLast(userId: string, last: LastPresence): Promise<void> {
    await q(this.r.set(this.k.lastPresence(userId), JSON.stringify({ stanza: last.stanza, at: last.at })));
  }

  async getLast(userId: string): Promise<LastPresence | null> {
    const json = await q(this.r.get(this.k.lastPresence(userId)));
    if (json === null) return null;
    const o = JSON.parse(json) as LastPresence;
    return { stanza: o.stanza, at: o.at };
  }
}
