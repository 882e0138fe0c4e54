/**
 * The bus carries what one node must hand to a session held by another node:
 * stanzas, carbon copies, and "close this session" orders (a bind conflict).
 * One node uses the in-process bus; several nodes sharing a Redis use a
 * pub/sub bus with the same interface (each node listens on its own channel).
 * Delivery is at most once and in order per sender; docs/bus.md says why.
 */
export type BusMessage =
  /** Deliver `xml` (a serialised stanza) to the session `to` (a full JID). */
  | { kind: 'stanza'; to: string; xml: string }
  /** Deliver `xml` to `to` only if that session has carbons enabled (XEP-0280). */
  | { kind: 'carbon'; to: string; xml: string }
  /** Deliver a roster push `xml` to `to` only if that session requested the roster (RFC 6121 §2.1.6). */
  | { kind: 'roster'; to: string; xml: string }
  /** Deliver a block-list push `xml` to `to` only if that session requested the block list (XEP-0191 §3.3). */
  | { kind: 'blocklist'; to: string; xml: string }
  /** Close the session `to` with a stream error (e.g. conflict when another session took its resource). */
  | { kind: 'close'; to: string; condition: string; text?: string }
  /**
   * Presence fan-out: the same stanza for several sessions (full JIDs) held by
   * the receiving node, carried once. The receiver sets `to` per recipient;
   * the bus only carries the list.
   */
  | { kind: 'stanza-many'; to: string[]; xml: string };

export type BusHandler = (msg: BusMessage) => void;

export interface Bus {
  /** Sends to a node; resolves false when no such node listens (its sessions are stale). */
  send(nodeId: string, msg: BusMessage): Promise<boolean>;
  /**
   * Sends several messages to a node in one hop (RedisBus: one PUBLISH per
   * up to ~1 MiB of payload); the handler still receives them one by one, in
   * order. Resolves like send(); an empty list only asks whether the node listens.
   */
  sendMany?(nodeId: string, msgs: BusMessage[]): Promise<boolean>;
  /** Starts receiving this node's messages. */
  listen(nodeId: string, handler: BusHandler): Promise<void>;
  close(): Promise<void>;
}
