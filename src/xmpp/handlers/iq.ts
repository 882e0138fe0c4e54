/**
 * IQ handling (RFC 6120 §8.2.3, §10.3): the server answers what is addressed
 * to itself or to an account it hosts — service discovery (XEP-0030), ping
 * (XEP-0199), software version (XEP-0092), carbons (XEP-0280), legacy session
 * (RFC 3921 §3) — and forwards the rest to full JIDs. A get or set it does not
 * handle is always answered: service-unavailable for an unknown namespace,
 * feature-not-implemented for a known one used in a way it does not offer.
 */
import { Element } from 'ltx';
import { StanzaError } from '../errors.js';
import type { LocalSession, Router } from '../router.js';
import { iqResult, type Envelope } from '../stanza.js';
import { NS_ROSTER, rosterGet, rosterSet } from './roster.js';
import { NS_BLOCKING, blockSet, blockedBetween, blocklistGet, unblockSet } from './blocking.js';

type IqEnvelope = Extract<Envelope, { kind: 'iq' }>;
type Handler = (router: Router, session: LocalSession, iq: IqEnvelope) => Promise<Element | null> | Element | null;

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
export const NS_PING = 'urn:xmpp:ping';
export const NS_VERSION = 'jabber:iq:version';
export const NS_CARBONS = 'urn:xmpp:carbons:2';

export const SERVER_FEATURES = [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_VERSION, NS_CARBONS, 'msgoffline', 'urn:xmpp:delay', 'jabber:iq:roster', 'urn:xmpp:blocking'];

function discoInfo(identity: { category: string; type: string; name?: string }, features: string[]): Element {
  const q = new Element('query', { xmlns: NS_DISCO_INFO });
  q.c('identity', identity);
  for (const f of features) q.c('feature', { var: f });
  return q;
}

/** What the server itself answers: "<type> <namespace> <element>" → handler. */
const SERVER_IQ: Record<string, Handler> = {
  [`get ${NS_PING} ping`]: () => null,
  [`get ${NS_DISCO_INFO} query`]: (_r, _s, iq) => {
    if (iq.payload?.attrs.node) throw new StanzaError('item-not-found', `no disco node ${iq.payload.attrs.node}`);
    return discoInfo({ category: 'server', type: 'im', name: 'imp' }, SERVER_FEATURES);
  },
  [`get ${NS_DISCO_ITEMS} query`]: (_r, _s, iq) => {
    if (iq.payload?.attrs.node) throw new StanzaError('item-not-found', `no disco node ${iq.payload.attrs.node}`);
    return new Element('query', { xmlns: NS_DISCO_ITEMS });
  },
  [`get ${NS_VERSION} query`]: (r) => {
    const q = new Element('query', { xmlns: NS_VERSION });
    q.c('name').t('imp');
    q.c('version').t(r.deps.version);
    return q;
  },
  [`set ${NS_CARBONS} enable`]: (_r, s) => { s.carbons = true; return null; },
  [`set ${NS_CARBONS} disable`]: (_r, s) => { s.carbons = false; return null; },
  // RFC 3921 §3 session establishment: a no-op kept for old clients (RFC 6121 Appendix E).
  'set urn:ietf:params:xml:ns:xmpp-session session': () => null,
  'set urn:ietf:params:xml:ns:xmpp-bind bind': () => { throw new StanzaError('not-allowed', 'a resource is already bound to this stream'); },
};

/** What the server answers on behalf of an account (to its bare JID). */
const ACCOUNT_IQ: Record<string, Handler> = {
  [`get ${NS_DISCO_INFO} query`]: (_r, _s, iq) => {
    if (iq.payload?.attrs.node) throw new StanzaError('item-not-found', `no disco node ${iq.payload.attrs.node}`);
    return discoInfo({ category: 'account', type: 'registered' }, [NS_DISCO_INFO, NS_DISCO_ITEMS]);
  },
  [`get ${NS_DISCO_ITEMS} query`]: () => new Element('query', { xmlns: NS_DISCO_ITEMS }),
  [`get ${NS_PING} ping`]: () => null,
};

/** What the server answers to a user about their own account (RFC 6121 §2: the roster). */
const OWN_ACCOUNT_IQ: Record<string, Handler> = {
  [`get ${NS_ROSTER} query`]: rosterGet,
  [`set ${NS_ROSTER} query`]: rosterSet,
  [`get ${NS_BLOCKING} blocklist`]: blocklistGet,
  [`set ${NS_BLOCKING} block`]: blockSet,
  [`set ${NS_BLOCKING} unblock`]: unblockSet,
};

const knownNamespaces = (table: Record<string, Handler>): Set<string> => new Set(Object.keys(table).map((k) => k.split(' ')[1]));
const SERVER_NS = knownNamespaces(SERVER_IQ);
const ACCOUNT_NS = knownNamespaces(ACCOUNT_IQ);
const OWN_IQ = { ...SERVER_IQ, ...ACCOUNT_IQ, ...OWN_ACCOUNT_IQ };
const OWN_NS = knownNamespaces(OWN_IQ);

export async function handleIq(router: Router, session: LocalSession, iq: IqEnvelope): Promise<void> {
  const to = iq.to;
  // RFC 6120 §10.3.3: an iq without 'to' is processed on behalf of the sender's account.
  const toServer = !!to && to.local === '';
  const toOwnAccount = !to || (to.local === session.userId && to.resource === '');

  if (iq.type === 'result' || iq.type === 'error') {
    // Answers to the server (e.g. to its pings) end here; answers to a client go to that client.
    if (to && to.resource !== '' && to.local !== '') await forwardToFull(router, session, iq);
    return;
  }
  if (toServer) return answer(router, session, iq, SERVER_IQ, SERVER_NS);
  if (toOwnAccount) return answer(router, session, iq, OWN_IQ, OWN_NS);
  // XEP-0191 §3.5: a blocked sender's requests are refused as if nobody were there.
  if (to && to.local !== session.userId && (await blockedBetween(router, session, to.local)) !== null) {
    return router.replyError(session, iq, new StanzaError('service-unavailable', `${to.local}@${to.domain} is not reachable`));
  }
  if (to && to.resource === '') {
    const user = await router.deps.store.users.get(to.local);
    if (!user) return router.replyError(session, iq, new StanzaError('service-unavailable', `no user ${to.local}@${to.domain}`));
    return answer(router, session, iq, ACCOUNT_IQ, ACCOUNT_NS);
  }
  await forwardToFull(router, session, iq);
}

async function answer(router: Router, session: LocalSession, iq: IqEnvelope, table: Record<string, Handler>, known: Set<string>): Promise<void> {
  const p = iq.payload as Element;
  const ns = p.attrs.xmlns ?? '';
  const handler = table[`${iq.type} ${ns} ${p.name}`];
  if (!handler) {
    const err = known.has(ns)
      ? new StanzaError('feature-not-implemented', `${iq.type} <${p.name} xmlns='${ns}'/> is not supported here`)
      : new StanzaError('service-unavailable', `the namespace ${ns || '(none)'} is not served here`);
    return router.replyError(session, iq, err);
  }
  try {
    const payload = await handler(router, session, iq);
    router.reply(session, iqResult(iq, payload ?? undefined).toString());
  } catch (e) {
    if (e instanceof StanzaError) return router.replyError(session, iq, e);
    throw e;
  }
}

async function forwardToFull(router: Router, session: LocalSession, iq: IqEnvelope): Promise<void> {
  const to = iq.to!;
  const recs = await router.sessionsOf(to.local);
  const rec = recs.find((r) => r.resource === to.resource);
  if (rec && (await router.deliver(rec, iq.el.toString()))) return;
  // An answer whose requester has gone is dropped; a request gets an error (RFC 6121 §8.5.3.2.1).
  if (iq.type === 'result' || iq.type === 'error') return;
  router.replyError(session, iq, new StanzaError('service-unavailable', `${to.local}@${to.domain}/${to.resource} is not online`));
}
