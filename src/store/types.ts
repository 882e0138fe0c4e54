/**
 * The store: every piece of state that more than one node must see. Three
 * implementations (Redis, embedded SQLite, memory) satisfy these interfaces
 * and one conformance suite (test/conformance/) runs against each.
 *
 * Rules every implementation keeps:
 * - userIds are stored as given: callers pass them already prepared
 *   (lower-case localparts, see src/util/jid.ts).
 * - A backend that cannot be reached makes the call reject with an ImpError
 *   whose code is IMP_STORE_UNAVAILABLE (see storeUnavailable() in
 *   src/errors.ts), promptly: never hang while the backend is away.
 * - Multi-key changes are atomic (a Lua script or MULTI in Redis, a
 *   transaction in SQLite).
 * - No password, plaintext or reversible, is ever stored: only SCRAM keys.
 */

/** A provisioned end user (the fields of the admin API, without the password). */
export interface UserRecord {
  userId: string;
  firstName: string | null;
  lastName: string | null;
  displayName: string | null;
  email: string | null;
  telephoneNumber: string | null;
  /** "Enable user for IM and Presence". */
  imPresenceEnabled: boolean;
  /** The "home cluster" flag; with imPresenceEnabled, required to sign in. */
  homeCluster: boolean;
  /** ISO-8601 timestamps. */
  createdAt: string;
  updatedAt: string;
}

/** The writable fields of a user; omitted fields keep their value (or take the default on create). */
export interface UserFields {
  firstName?: string | null;
  lastName?: string | null;
  displayName?: string | null;
  email?: string | null;
  telephoneNumber?: string | null;
  imPresenceEnabled?: boolean;
  homeCluster?: boolean;
}

/** RFC 5802 server-side credential for one hash: all base64. */
export interface ScramCredential {
  salt: string;
  iterations: number;
  storedKey: string;
  serverKey: string;
}

export type ScramHash = 'SHA-1' | 'SHA-256';

export type Credentials = Record<ScramHash, ScramCredential>;

export interface UserPage { users: UserRecord[]; total: number }

export interface UserStore {
  /** Rejects with IMP_USER_EXISTS when the userId is taken. */
  create(userId: string, fields: UserFields, credentials: Credentials): Promise<UserRecord>;
  get(userId: string): Promise<UserRecord | null>;
  /** Updates fields and, when given, replaces the credentials; rejects with IMP_USER_NOT_FOUND. */
  update(userId: string, fields: UserFields, credentials?: Credentials): Promise<UserRecord>;
  /** Removes the user, its credentials, offline messages, roster, block list and last presence atomically; false when absent. */
  remove(userId: string): Promise<boolean>;
  /** Users ordered by userId. */
  list(offset: number, limit: number): Promise<UserPage>;
  getCredentials(userId: string): Promise<Credentials | null>;
}

/** One bound XMPP resource, registered with the node that holds its socket. */
export interface SessionRecord {
  userId: string;
  resource: string;
  nodeId: string;
  /** Presence priority (-128..127); 0 until the client says otherwise. */
  priority: number;
  /** Whether the resource has sent available presence (is "available" per RFC 6121 §4.1). */
  available: boolean;
  /** The resource's current available presence, serialised without 'to' (answers probes from any node). */
  presence?: string | null;
  /** ms since the epoch when the session was bound. */
  since: number;
}

export interface SessionStore {
  /**
   * Registers (or replaces) the session for userId/resource and adds it to
   * the node's index, atomically. Returns the record it replaced, if any, so
   * the caller can tell that session's node to close it (bind conflict).
   */
  register(rec: SessionRecord): Promise<SessionRecord | null>;
  /** Updates priority/availability/presence; no-op when the session is not owned by rec.nodeId any more. */
  update(userId: string, resource: string, nodeId: string, patch: { priority?: number; available?: boolean; presence?: string | null }): Promise<void>;
  /** Removes the session only if it is still owned by nodeId (a replacement elsewhere stays). */
  unregister(userId: string, resource: string, nodeId: string): Promise<void>;
  get(userId: string, resource: string): Promise<SessionRecord | null>;
  listByUser(userId: string): Promise<SessionRecord[]>;
  listByNode(nodeId: string): Promise<SessionRecord[]>;
  /**
   * The presence hot path, one atomic step (RFC 6121 §4.2–§4.5): records the
   * resource's availability, priority and presence stanza, and returns what
   * the fan-out needs as it stood at that instant — the available sessions of
   * the user's watchers not blocked by the user, and, when `probe` is set
   * (initial presence), the available sessions, with their presence, of the
   * contacts the user is subscribed to (subscription to/both). Doing both in
   * one step is what keeps two users who come online together from getting
   * each other's presence twice. Resolves null when the session is not
   * registered to this node (any more).
   */
  publish?(userId: string, resource: string, nodeId: string, p: { available: boolean; priority: number; presence: string | null }, probe: boolean):
    Promise<{ watchers: SessionRecord[]; contacts: SessionRecord[] } | null>;
  /** Sessions of many users in one round trip. */
  listByUsers?(userIds: string[]): Promise<Map<string, SessionRecord[]>>;
  /** Removes every session of a node (a dead node's, or this node's at start); returns how many. */
  purgeNode(nodeId: string): Promise<number>;
}

export interface OfflineMessage {
  /** Increasing per user; ack() deletes up to and including an id. */
  id: number;
  /** The serialised <message/> stanza as it will be delivered. */
  stanza: string;
  /** ms since the epoch (for the XEP-0203 delay stamp). */
  storedAt: number;
}

export interface OfflineStore {
  /**
   * Appends a message; resolves false (stores nothing) when the user already
   * holds `max` messages. Resolves only once the message is durable as far as
   * the backend offers.
   */
  push(userId: string, stanza: string, storedAt: number, max: number): Promise<boolean>;
  /** Oldest first, without removing them (delivery acks afterwards, so nothing is lost). */
  list(userId: string): Promise<OfflineMessage[]>;
  /** Removes messages with id <= upToId. */
  ack(userId: string, upToId: number): Promise<void>;
  count(userId: string): Promise<number>;
}

export type { BlockStore, LastPresence, PresenceStore, Roster, RosterChange, RosterItem, RosterLimits, RosterPairSide, RosterRefusal, RosterStore, Subscription } from './roster-types.js';
import type { BlockStore, PresenceStore, RosterStore } from './roster-types.js';

export type StoreKind = 'redis' | 'embedded' | 'memory';

export type StoreStatus = 'up' | 'down';

export interface Store {
  readonly kind: StoreKind;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly offline: OfflineStore;
  readonly rosters: RosterStore;
  readonly blocks: BlockStore;
  readonly presence: PresenceStore;
  /** Resolves when the backend answers; rejects with IMP_STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  /** Whether the backend is reachable right now, as last seen. */
  status(): StoreStatus;
  /** Called on every change of status (Redis lost / back). Returns an unsubscribe function. */
  onStatus(listener: (status: StoreStatus) => void): () => void;
  close(): Promise<void>;
}

export interface StoreOptions {
  kind: StoreKind;
  /** redis: the URL; key names are built under `prefix`. */
  redisUrl?: string;
  prefix?: string;
  /** embedded: the folder holding imp.sqlite. */
  dataDir?: string;
  /**
   * The XMPP domain this deployment serves (prepared, e.g. "example.com";
   * default 'localhost'). SessionStore.publish maps the bare JIDs of the
   * watcher index and roster to userIds by it: only `<localpart>@<domain>`
   * is local, any other JID is left to server-to-server delivery.
   */
  domain?: string;
}
