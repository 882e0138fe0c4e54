/**
 * XMPP errors at the protocol edge: stream errors (RFC 6120 §4.9), stanza
 * errors (RFC 6120 §8.3) and SASL failures (RFC 6120 §6.5). Inside the server
 * conditions travel as values; these build the elements that go on the wire.
 */
import { Element } from 'ltx';
import type { SaslCondition } from './sasl/types.js';

export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

export type StreamErrorCondition =
  | 'bad-format' | 'bad-namespace-prefix' | 'conflict' | 'connection-timeout' | 'host-gone' | 'host-unknown'
  | 'improper-addressing' | 'internal-server-error' | 'invalid-from' | 'invalid-namespace' | 'invalid-xml'
  | 'not-authorized' | 'not-well-formed' | 'policy-violation' | 'remote-connection-failed' | 'reset'
  | 'resource-constraint' | 'restricted-xml' | 'see-other-host' | 'system-shutdown' | 'undefined-condition'
  | 'unsupported-encoding' | 'unsupported-feature' | 'unsupported-stanza-type' | 'unsupported-version';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

export type StanzaErrorCondition =
  | 'bad-request' | 'conflict' | 'feature-not-implemented' | 'forbidden' | 'gone' | 'internal-server-error'
  | 'item-not-found' | 'jid-malformed' | 'not-acceptable' | 'not-allowed' | 'not-authorized' | 'policy-violation'
  | 'recipient-unavailable' | 'redirect' | 'registration-required' | 'remote-server-not-found'
  | 'remote-server-timeout' | 'resource-constraint' | 'service-unavailable' | 'subscription-required'
  | 'undefined-condition' | 'unexpected-request';

/** The error type RFC 6120 §8.3.3 gives each condition by default. */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify', 'conflict': 'cancel', 'feature-not-implemented': 'cancel', 'forbidden': 'auth',
  'gone': 'cancel', 'internal-server-error': 'cancel', 'item-not-found': 'cancel', 'jid-malformed': 'modify',
  'not-acceptable': 'modify', 'not-allowed': 'cancel', 'not-authorized': 'auth', 'policy-violation': 'modify',
  'recipient-unavailable': 'wait', 'redirect': 'modify', 'registration-required': 'auth',
  'remote-server-not-found': 'cancel', 'remote-server-timeout': 'wait', 'resource-constraint': 'wait',
  'service-unavailable': 'cancel', 'subscription-required': 'auth', 'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

/** A stream-level error: the stream is closed after it is sent. */
export class StreamError extends Error {
  constructor(readonly condition: StreamErrorCondition, readonly text?: string) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StreamError';
  }
  toElement(): Element {
    const el = new Element('stream:error');
    el.c(this.condition, { xmlns: NS_STREAM_ERRORS });
    if (this.text) el.c('text', { xmlns: NS_STREAM_ERRORS, 'xml:lang': 'en' }).t(this.text);
    return el;
  }
}

/** A stanza-level error, answered to the sender; the stream goes on. */
export class StanzaError extends Error {
  readonly type: StanzaErrorType;
  constructor(
    readonly condition: StanzaErrorCondition,
    readonly text?: string,
    type?: StanzaErrorType,
    /** An application-specific condition element (RFC 6120 §8.3.2), e.g. XEP-0191's <blocked/>. */
    readonly app?: { name: string; xmlns: string },
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StanzaError';
    this.type = type ?? DEFAULT_TYPE[condition];
  }
  toElement(by?: string): Element {
    const el = new Element('error', by ? { type: this.type, by } : { type: this.type });
    el.c(this.condition, { xmlns: NS_STANZAS });
    if (this.text) el.c('text', { xmlns: NS_STANZAS, 'xml:lang': 'en' }).t(this.text);
    if (this.app) el.c(this.app.name, { xmlns: this.app.xmlns });
    return el;
  }
}

export function saslFailureElement(condition: SaslCondition, text?: string): Element {
  const el = new Element('failure', { xmlns: NS_SASL });
  el.c(condition);
  if (text) el.c('text', { 'xml:lang': 'en' }).t(text);
  return el;
}

/**
 * The error answer to a stanza (RFC 6120 §8.3.1): same name and id, addresses
 * swapped, type "error", the original payload kept. Never built for an error
 * (RFC 6120 §8.3.1: an error is never answered with an error) — returns null.
 */
export function errorReply(stanza: Element, err: StanzaError, serverFrom?: string): Element | null {
  if (stanza.attrs.type === 'error') return null;
  const attrs: Record<string, string> = { type: 'error' };
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  const from = stanza.attrs.to ?? serverFrom;
  if (from) attrs.from = from;
  if (stanza.attrs.from) attrs.to = stanza.attrs.from;
  if (stanza.attrs.xmlns) attrs.xmlns = stanza.attrs.xmlns;
  const reply = new Element(stanza.name, attrs);
  // Keep the payload for iq get/set (the request's child) and messages; it tells the sender what failed.
  for (const child of stanza.children) if (typeof child !== 'string' && child.name !== 'error') reply.cnode(child);
  reply.cnode(err.toElement());
  return reply;
}
