/**
 * The router: every stanza a client sends goes through `route()`, and every
 * session of every user is found through the store's session registry
 * (RFC 6120 §10, RFC 6121 §8). Sessions held by this node are delivered to
 * directly; sessions held by another node are reached over the bus. The
 * decision table is docs/routing.md; keep the two in step.
 */
import { Element, parse } from 'ltx';
import type { Bus, BusMessage } from '../bus/types.js';
import { SHOWS, type PresenceTuple, type Show } from '../presence-engine/model.js';
import { isImpError } from '../errors.js';
import type { RosterLimits } from '../store/roster-types.js';
import type { SessionRecord, Store } from '../store/types.js';
import type { Logger } from '../util/log.js';
import { type Jid, bareJid } from '../util/jid.js';
import { StanzaError, errorReply, type StreamErrorCondition } from './errors.js';
import { handleIq } from './handlers/iq.js';
import { routeMessage } from './handlers/message.js';
import { routePresence } from './handlers/presence.js';
import { withTo, type Envelope } from './stanza.js';

/** What the router needs of a session held by this node. */
export interface LocalSession {
  readonly jid: Jid;
  readonly fullJid: string;
  readonly userId: string;
  readonly resource: string;
  priority: number;
  available: boolean;
  carbons: boolean;
  /** Set when another session bound the same full JID: this one is on its way out. */
  replaced: boolean;
  /** Whether this session's offline messages were handed out (XEP-0160). */
  offlineFlushed: boolean;
  /** Whether the client asked for the roster: only such "interested" resources get roster pushes (RFC 6121 §2.1.6). */
  rosterRequested: boolean;
  /** Whether the client asked for the block list: only such resources get block pushes (XEP-0191 §3.3). */
  blocklistRequested: boolean;
  /** The current available presence as broadcast, without 'to' (null when unavailable). */
  presenceXml: string | null;
  readonly since: number;
  /** Writes a serialised stanza to the client. */
  send(xml: string): void;
  /** Ends the session with a stream error. */
  close(condition: StreamErrorCondition, text?: string): void;
  /** Resolves once what was sent has left for the client (rejects when the connection is gone). */
  flushed(): Promise<void>;
}

export interface RouterDeps {
  domain: string;
  nodeId: string;
  store: Store;
  bus: Bus;
  log: Logger;
  version: string;
  offlineMax: number;
  limits: RosterLimits;
  now(): number;
  counters: { stanzasOut(n?: number): void };
}

export class Router {
  readonly domain: string;
  readonly nodeId: string;
  private byFull = new Map<string, LocalSession>();
  private offlineLocks = new Map<string, Promise<void>>();
  private unsubscribeStatus: (() => void) | null = null;

  constructor(readonly deps: RouterDeps) {
    this.domain = deps.domain;
    this.nodeId = deps.nodeId;
  }

  async start(): Promise<void> {
    // Sessions this node held before a crash are gone: forget them.
    await this.deps.store.sessions.purgeNode(this.nodeId);
    await this.deps.bus.listen(this.nodeId, (msg) => this.fromBus(msg));
    this.unsubscribeStatus = this.deps.store.onStatus((status) => {
      if (status === 'up') this.reconcile().catch((e) => this.deps.log.warn({ err: e }, 'session re-registration failed'));
    });
  }

  stop(): void { this.unsubscribeStatus?.(); }

  get localCount(): number { return this.byFull.size; }

  /** Removes every registration of this node (clean shutdown: other nodes must not route here any more). */
  async purgeOwn(): Promise<void> {
    this.byFull.clear();
    await this.deps.store.sessions.purgeNode(this.nodeId);
  }

  local(fullJid: string): LocalSession | undefined { return this.byFull.get(fullJid); }

  localOfUser(userId: string): LocalSession[] {
    const out: LocalSession[] = [];
    for (const s of this.byFull.values()) if (s.userId === userId) out.push(s);
    return out;
  }

  /**
   * Binds a resource (RFC 6120 §7): the session becomes reachable. A session
   * already bound to the same full JID, here or on another node, is closed
   * with a `conflict` stream error (RFC 6120 §7.7.2.2, "override").
   */
  async bind(session: LocalSession): Promise<void> {
    const old = this.byFull.get(session.fullJid);
    this.byFull.set(session.fullJid, session);
    if (old && old !== session) {
      // The old session must not see what is meant for its replacement (e.g. its own unavailable presence).
      old.replaced = true;
      old.close('conflict', 'replaced by a new session that bound the same resource');
    }
    const prev = await this.deps.store.sessions.register(this.record(session));
    if (!this.blockCache.has(session.userId)) await this.loadBlocks(session.userId);
    if (prev && prev.nodeId !== this.nodeId) {
      await this.deps.bus.send(prev.nodeId, { kind: 'close', to: session.fullJid, condition: 'conflict', text: 'replaced by a new session that bound the same resource' });
    }
  }

  /**
   * Takes an ending session out of the local table at once, so nothing more
   * is handed to it (a stanza for it is then routed as to an absent
   * resource: offline storage or an error, never silently dropped).
   */
  detach(session: LocalSession): void {
    if (this.byFull.get(session.fullJid) === session) this.byFull.delete(session.fullJid);
  }

  /**
   * Forgets a session that ended. The store record goes only if no newer
   * session on this node has bound the same full JID meanwhile (its record
   * has the same key and node).
   */
  async unbind(session: LocalSession): Promise<void> {
    this.detach(session);
    if (this.localOfUser(session.userId).length === 0) this.blockCache.delete(session.userId);
    if (this.byFull.has(session.fullJid)) return;
    try {
      await this.deps.store.sessions.unregister(session.userId, session.resource, this.nodeId);
    } catch (e) {
      // The store is away: reconcile() removes the record when it returns.
      if (!isImpError(e, 'IMP_STORE_UNAVAILABLE')) throw e;
    }
  }

  async updatePresence(session: LocalSession): Promise<void> {
    try {
      await this.deps.store.sessions.update(session.userId, session.resource, this.nodeId, { priority: session.priority, available: session.available });
    } catch (e) {
      if (!isImpError(e, 'IMP_STORE_UNAVAILABLE')) throw e;
    }
  }

  /** The sessions of a user, on every node; this node's own when the store is away. */
  async sessionsOf(userId: string): Promise<SessionRecord[]> {
    try {
      return await this.deps.store.sessions.listByUser(userId);
    } catch (e) {
      if (!isImpError(e, 'IMP_STORE_UNAVAILABLE')) throw e;
      this.deps.log.warn({ userId }, 'store unavailable: routing to this node\'s sessions only');
      return this.localOfUser(userId).map((s) => this.record(s));
    }
  }

  /** Sessions of several users in one store round trip; this node's own when the store is away. */
  async sessionsOfMany(userIds: string[]): Promise<Map<string, SessionRecord[]>> {
    const list = this.deps.store.sessions.listByUsers;
    // A few users: plain look-ups side by side cost this process less than a pipeline (measured in bench/).
    if (!list || userIds.length <= 4) return new Map(await Promise.all(userIds.map(async (id) => [id, await this.sessionsOf(id)] as const)));
    try {
      return await list.call(this.deps.store.sessions, userIds);
    } catch (e) {
      if (!isImpError(e, 'IMP_STORE_UNAVAILABLE')) throw e;
      return new Map(userIds.map((id) => [id, this.localOfUser(id).map((s) => this.record(s))]));
    }
  }

  /**
   * Hands a stanza to one session wherever it is. Resolves false when that
   * session is gone. A 'carbon' reaches only sessions with carbons enabled,
   * a 'roster' push only sessions that asked for the roster, a 'blocklist'
   * push only sessions that asked for the block list.
   */
  async deliver(rec: SessionRecord, xml: string, kind: 'stanza' | 'carbon' | 'roster' | 'blocklist' = 'stanza'): Promise<boolean> {
    const full = `${rec.userId}@${this.domain}/${rec.resource}`;
    if (rec.nodeId === this.nodeId) return this.deliverLocal({ kind, to: full, xml });
    try {
      return await this.deps.bus.send(rec.nodeId, { kind, to: full, xml });
    } catch (e) {
      // The bus is Redis: away with the store. The stanza is treated as not delivered (stored or refused).
      if (isImpError(e, 'IMP_STORE_UNAVAILABLE')) return false;
      throw e;
    }
  }

  /** Writes to a session of this node; false when it is not here. */
  deliverLocalStanza(fullJid: string, xml: string): boolean {
    const s = this.byFull.get(fullJid);
    if (!s) return false;
    s.send(xml);
    this.deps.counters.stanzasOut();
    return true;
  }

  /** Hands a batch of stanzas for sessions of another node over the bus, in one message where the bus can. */
  async sendRemote(nodeId: string, list: Array<{ to: string; xml: string }>): Promise<void> {
    // Recipients that share one rendering (the sessions of one watcher) travel as one stanza-many.
    const msgs: BusMessage[] = [];
    for (const { to, xml } of list) {
      const last = msgs[msgs.length - 1];
      if (last && last.kind === 'stanza-many' && last.xml === xml) last.to.push(to);
      else msgs.push({ kind: 'stanza-many', to: [to], xml });
    }
    const bus = this.deps.bus;
    if (bus.sendMany) await bus.sendMany(nodeId, msgs);
    else for (const m of msgs) await bus.send(nodeId, m);
  }

  /** Block lists (XEP-0191) of users with a session on this node: the message path reads them without a store trip. */
  private blockCache = new Map<string, Set<string>>();

  /** (Re)loads a user's block list into the cache; keeps the old one when the store is away. */
  async loadBlocks(userId: string): Promise<void> {
    try {
      this.blockCache.set(userId, new Set(await this.deps.store.blocks.list(userId)));
    } catch (e) {
      if (!isImpError(e, 'IMP_STORE_UNAVAILABLE')) throw e;
    }
  }

  /** A user's block list: cached for local users, else from the store; null when it cannot be known now. */
  async blocksOf(userId: string): Promise<Set<string> | null> {
    const cached = this.blockCache.get(userId);
    if (cached) return cached;
    try {
      return new Set(await this.deps.store.blocks.list(userId));
    } catch (e) {
      if (!isImpError(e, 'IMP_STORE_UNAVAILABLE')) throw e;
      return null;
    }
  }

  private chains = new Map<string, Promise<unknown>>();
  /** Runs `fn` after every earlier call with the same key has finished (e.g. changes to one pair of rosters). */
  serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.chains.set(key, tail);
    void tail.then(() => { if (this.chains.get(key) === tail) this.chains.delete(key); });
    return run;
  }

  /**
   * Sends the current presence of each available resource of `ownerId` to
   * `toUserId`'s available sessions (after a subscription is granted, RFC
   * 6121 §3.1.5, §4.3.2); with none available, the last unavailable presence
   * with its delay stamp, if one is known.
   */
  async sendCurrentPresence(ownerId: string, toUserId: string): Promise<void> {
    const targets = (await this.sessionsOf(toUserId)).filter((r) => r.available);
    if (targets.length === 0) return;
    const owner = (await this.sessionsOf(ownerId)).filter((r) => r.available);
    const to = `${toUserId}@${this.domain}`;
    const stanzas: string[] = [];
    for (const rec of owner) {
      const xml = rec.presence ?? this.byFull.get(`${ownerId}@${this.domain}/${rec.resource}`)?.presenceXml;
      if (xml) stanzas.push(xml);
    }
    if (stanzas.length === 0) {
      const last = await this.deps.store.presence.getLast(ownerId);
      if (last?.stanza) stanzas.push(last.stanza);
    }
    for (const xml of stanzas) for (const t of targets) await this.deliver(t, withTo(xml, to));
  }

  /** Sends a stanza back to the session that sent a request (replies, errors). */
  reply(session: LocalSession, xml: string): void {
    session.send(xml);
    this.deps.counters.stanzasOut();
  }

  /**
   * Routes one stanza from a client (already decoded, `from` stamped).
   *
   * | stanza   | to                          | handled by                                  |
   * |----------|-----------------------------|---------------------------------------------|
   * | iq       | none, our domain, own bare  | handleIq (server / own account)             |
   * | iq       | another local bare JID      | handleIq (on behalf of that account)        |
   * | iq       | local full JID              | that session, else service-unavailable      |
   * | message  | local bare or full JID      | routeMessage (RFC 6121 §8.5, offline, carbons) |
   * | presence | none / bare / full          | routePresence                               |
   * | any      | another domain              | remote-server-not-found (no s2s)            |
   */
  async route(session: LocalSession, env: Envelope): Promise<void> {
    const to = env.to;
    if (to && to.domain !== this.domain) {
      return this.replyError(session, env, new StanzaError('remote-server-not-found', `this server does not federate; ${to.domain} is not served here`));
    }
    switch (env.kind) {
      case 'iq': return handleIq(this, session, env);
      case 'message': return routeMessage(this, session, env);
      case 'presence': return routePresence(this, session, env);
    }
  }

  replyError(session: LocalSession, env: Envelope, err: StanzaError): void {
    const reply = errorReply(env.el, err, this.domain);
    if (reply) this.reply(session, reply.toString());
  }

  /**
   * Delivers the offline messages of a user to a session that just became
   * available (XEP-0160), acknowledging them in the store only once they
   * left for the client, so a connection that dies midway loses nothing.
   */
  deliverOffline(session: LocalSession, decorate: (xml: string, storedAt: number) => string): Promise<void> {
    const key = session.userId;
    const prev = this.offlineLocks.get(key) ?? Promise.resolve();
    const run = prev.then(async () => {
      const msgs = await this.deps.store.offline.list(session.userId);
      if (msgs.length === 0) return;
      for (const m of msgs) session.send(decorate(m.stanza, m.storedAt));
      this.deps.counters.stanzasOut(msgs.length);
      await session.flushed();
      await this.deps.store.offline.ack(session.userId, msgs[msgs.length - 1].id);
    }).catch((e) => this.deps.log.warn({ err: e, userId: key }, 'offline delivery interrupted; messages kept for the next session'));
    this.offlineLocks.set(key, run);
    void run.then(() => { if (this.offlineLocks.get(key) === run) this.offlineLocks.delete(key); });
    return run;
  }

  /** Closes every session of a user (removed or disabled by an administrator). */
  async closeUser(userId: string, condition: StreamErrorCondition, text: string): Promise<void> {
    for (const rec of await this.sessionsOf(userId)) {
      const full = `${rec.userId}@${this.domain}/${rec.resource}`;
      if (rec.nodeId === this.nodeId) this.byFull.get(full)?.close(condition, text);
      else await this.deps.bus.send(rec.nodeId, { kind: 'close', to: full, condition, text });
    }
  }

  private fromBus(msg: BusMessage): void {
    switch (msg.kind) {
      case 'close':
        this.byFull.get(msg.to)?.close(msg.condition as StreamErrorCondition, msg.text);
        return;
      case 'stanza-many':
        for (const to of msg.to) this.deliverLocal({ kind: 'stanza', to, xml: msg.xml });
        return;
      default:
        this.deliverLocal(msg);
    }
  }

  private deliverLocal(msg: { kind: 'stanza' | 'carbon' | 'roster' | 'blocklist'; to: string; xml: string }): boolean {
    const s = this.byFull.get(msg.to);
    if (!s) return false;
    if (msg.kind === 'carbon' && !s.carbons) return true;
    if (msg.kind === 'roster' && !s.rosterRequested) return true;
    // A block-list change made on any node refreshes this node's copy.
    if (msg.kind === 'blocklist') void this.loadBlocks(s.userId).catch(() => {});
    if (msg.kind === 'blocklist' && !s.blocklistRequested) return true;
    s.send(msg.xml);
    this.deps.counters.stanzasOut();
    return true;
  }

  /** After a store outage: this node's registrations are made true again. */
  private async reconcile(): Promise<void> {
    const stored = await this.deps.store.sessions.listByNode(this.nodeId);
    const live = new Set(this.byFull.keys());
    for (const rec of stored) {
      const full = `${rec.userId}@${this.domain}/${rec.resource}`;
      if (!live.has(full)) await this.deps.store.sessions.unregister(rec.userId, rec.resource, this.nodeId);
    }
    for (const s of this.byFull.values()) await this.deps.store.sessions.register(this.record(s));
    this.deps.log.info({ sessions: this.byFull.size }, 'store back: sessions re-registered');
  }

  private record(s: LocalSession): SessionRecord {
    return { userId: s.userId, resource: s.resource, nodeId: this.nodeId, priority: s.priority, available: s.available, since: s.since, presence: s.presenceXml };
  }

  bare(j: Jid): string { return bareJid(j); }

  /**
   * The user's XMPP resources as presence-engine tuples (one source per
   * resource): what the presence viewer and, later, SIP watchers compose.
   */
  async presenceTuples(userId: string): Promise<PresenceTuple[]> {
    const out: PresenceTuple[] = [];
    for (const rec of await this.sessionsOf(userId)) {
      const xml = rec.presence ?? this.byFull.get(`${userId}@${this.domain}/${rec.resource}`)?.presenceXml ?? null;
      let show: Show = 'available';
      let status: string | null = null;
      if (xml) {
        const el = parse(xml) as Element;
        const s = el.getChildText('show');
        if (s && (SHOWS as readonly string[]).includes(s)) show = s as Show;
        status = el.getChildText('status');
      }
      out.push({ source: { kind: 'xmpp', id: rec.resource }, available: rec.available, show, status, priority: rec.priority, updatedAt: rec.since });
    }
    return out;
  }
}
