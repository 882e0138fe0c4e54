/**
 * The bus carries what one node must hand to a session held by another node:
 * stanzas, carbon copies, and "close this session" orders (a bind conflict).
 * One node uses the in-process bus; several nodes sharing a Redis use a
 * pub/sub bus with the same interface (each node listens on its own channel).
 */
export type BusMessage =
  /** Deliver `xml` (a serialised stanza) to the session `to` (a full JID). */
  | { kind: 'stanza'; to: string; xml: string }
  /** Deliver `xml` to `to` only if that session has carbons enabled (XEP-0280). */
  | { kind: 'carbon'; to: string; xml: string }
  /** Close the session `to` with a stream error (e.g. conflict when another session took its resource). */
  | { kind: 'close'; to: string; condition: string; text?: string };

export type BusHandler = (msg: BusMessage) => void;

export interface Bus {
  /** Sends to a node; resolves false when no such node listens (its sessions are stale). */
  send(nodeId: string, msg: BusMessage): Promise<boolean>;
  /** Starts receiving this node's messages. */
  listen(nodeId: string, handler: BusHandler): Promise<void>;
  close(): Promise<void>;
}
