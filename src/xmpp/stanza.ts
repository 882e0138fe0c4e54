/**
 * Stanzas decoded to typed envelopes at the edge (RFC 6120 §8.1, RFC 6121
 * §4.7.1, §5.2.2): handlers read `kind`, `type`, `to`, never raw attributes.
 * A stanza that breaks the addressing rules becomes an error value here.
 */
import { Element } from 'ltx';
import { type Jid, JidError, parseJid, fullJid } from '../util/jid.js';
import { StanzaError, StreamError } from './errors.js';

export type IqType = 'get' | 'set' | 'result' | 'error';
export type MessageType = 'normal' | 'chat' | 'groupchat' | 'headline' | 'error';
export type PresenceType = 'available' | 'unavailable' | 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed' | 'probe' | 'error';

export type Envelope =
  | { kind: 'iq'; type: IqType; id: string; to: Jid | null; el: Element; payload: Element | null }
  | { kind: 'message'; type: MessageType; id: string | undefined; to: Jid | null; el: Element }
  | { kind: 'presence'; type: PresenceType; id: string | undefined; to: Jid | null; el: Element };

const IQ_TYPES = new Set(['get', 'set', 'result', 'error']);
const MESSAGE_TYPES = new Set(['normal', 'chat', 'groupchat', 'headline', 'error']);
const PRESENCE_TYPES = new Set(['unavailable', 'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'error']);

export function elementChildren(el: Element): Element[] {
  return el.children.filter((c): c is Element => typeof c !== 'string');
}

/**
 * Checks a client's stanza and stamps its `from` with the sender's full JID
 * (RFC 6120 §8.1.2.1). Returns the envelope, a StanzaError to answer, or a
 * StreamError that ends the stream.
 */
export function decodeFromClient(el: Element, sender: Jid): Envelope | StanzaError | StreamError {
  const { attrs } = el;
  if (attrs.to === '' || attrs.from === '') return new StreamError('improper-addressing', `the '${attrs.to === '' ? 'to' : 'from'}' attribute is empty`);
  const senderFull = fullJid(sender);
  if (attrs.from !== undefined) {
    let from: Jid;
    try { from = parseJid(attrs.from); } catch { return new StreamError('invalid-from', `'from' is not a valid JID: ${attrs.from}`); }
    if (fullJid(from) !== senderFull && !(from.resource === '' && from.local === sender.local && from.domain === sender.domain)) {
      return new StreamError('invalid-from', `'from' must be your own address (${senderFull}), not ${attrs.from}`);
    }
  }
  attrs.from = senderFull;
  let to: Jid | null = null;
  if (attrs.to !== undefined) {
    try { to = parseJid(attrs.to); } catch (e) {
      return new StanzaError('jid-malformed', `'to' is not a valid JID: ${e instanceof JidError ? e.message : String(e)}`);
    }
  }
  const id: string | undefined = attrs.id;
  switch (el.name) {
    case 'iq': {
      if (!IQ_TYPES.has(attrs.type)) return new StanzaError('bad-request', `an iq's type must be get, set, result or error, not ${JSON.stringify(attrs.type ?? '')}`);
      if (!id) return new StanzaError('bad-request', "an iq must carry an 'id' (RFC 6120 §8.2.3)");
      const children = elementChildren(el);
      if ((attrs.type === 'get' || attrs.type === 'set') && children.filter((c) => c.name !== 'error').length !== 1) {
        return new StanzaError('bad-request', `an iq of type ${attrs.type} must contain exactly one child element (RFC 6120 §8.2.3)`);
      }
      return { kind: 'iq', type: attrs.type as IqType, id, to, el, payload: children[0] ?? null };
    }
    case 'message': {
      // RFC 6121 §5.2.2: no type, or a type not understood, means "normal".
      const type = (MESSAGE_TYPES.has(attrs.type) ? attrs.type : 'normal') as MessageType;
      return { kind: 'message', type, id, to, el };
    }
    default: {
      if (attrs.type !== undefined && !PRESENCE_TYPES.has(attrs.type)) {
        return new StanzaError('bad-request', `unknown presence type ${JSON.stringify(attrs.type)}`);
      }
      return { kind: 'presence', type: (attrs.type ?? 'available') as PresenceType, id, to, el };
    }
  }
}

export function iqResult(req: { id: string; el: Element }, payload?: Element): Element {
  const attrs: Record<string, string> = { type: 'result', id: req.id };
  if (req.el.attrs.to) attrs.from = req.el.attrs.to;
  if (req.el.attrs.from) attrs.to = req.el.attrs.from;
  const iq = new Element('iq', attrs);
  if (payload) iq.cnode(payload);
  return iq;
}

export const escAttr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Inserts a 'to' into a serialised stanza that has none (one serialisation, many recipients). */
export function withTo(xml: string, to: string): string {
  const sp = xml.indexOf(' ');
  const gt = xml.indexOf('>');
  const cut = sp > 0 && sp < gt ? sp : gt;
  return `${xml.slice(0, cut)} to="${escAttr(to)}"${xml.slice(cut)}`;
}
