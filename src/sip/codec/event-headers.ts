/**
 * Typed readers for the SIP event-framework and publication header fields:
 * RFC 6665 §8.2.1 Event (event-type with an id parameter), §8.2.2
 * Allow-Events, §8.2.3 Subscription-State (ABNF in §8.4); RFC 3903 §11.3.1
 * SIP-ETag and §11.3.2 SIP-If-Match; RFC 3261 §20.37 Supported and §20.32
 * Require (option tags are tokens, §25.1).
 */
import { isToken, readParams, Scanner, type Params } from './grammar.js';
import { bad, deltaSeconds, headersOf, ok, single, type HeaderSource, type SipResult } from './header-values.js';

export interface EventHeader {
  /** The whole event-type as written, e.g. 'presence' or 'presence.winfo'. */
  type: string;
  /** The event-package, e.g. 'presence'. */
  package: string;
  /** The event-templates after it, e.g. ['winfo']. */
  templates: string[];
  /** RFC 6665 §8.2.1: the id parameter, which tells several subscriptions in one dialog apart. */
  id?: string;
  params: Params;
}

/** event-type = event-package *( "." event-template ), each part a token without dots. */
function isEventType(s: string): boolean {
  return isToken(s) && s.split('.').every((p) => p !== '');
}

export function readEvent(src: HeaderSource): SipResult<EventHeader | undefined> {
  const rule = 'RFC 6665 §8.2.1';
  const line = single(src, 'Event', rule);
  if (!line.ok || line.value === undefined) return line as SipResult<undefined>;
  const sc = new Scanner(line.value);
  const type = sc.token();
  if (!isEventType(type)) return bad('Event', `the event type must be package or package.template tokens (${rule})`);
  const params = readParams(sc);
  if (typeof params === 'string') return bad('Event', `${params} (${rule})`);
  if (!sc.atEnd()) return bad('Event', `unexpected text after the event type (${rule})`);
  const [pkg, ...templates] = type.split('.');
  const event: EventHeader = { type, package: pkg, templates, params };
  const id = params.get('id');
  if (id !== undefined) {
    if (id === null || !isToken(id)) return bad('Event', `id must be a token (${rule})`);
    event.id = id;
  }
  return ok(event);
}

export interface SubscriptionState {
  /** Lower-cased: 'active', 'pending', 'terminated', or an extension state. */
  state: string;
  reason?: string;
  expires?: number;
  retryAfter?: number;
  params: Params;
}

export function readSubscriptionState(src: HeaderSource): SipResult<SubscriptionState | undefined> {
  const rule = 'RFC 6665 §8.2.3';
  const line = single(src, 'Subscription-State', rule);
  if (!line.ok || line.value === undefined) return line as SipResult<undefined>;
  const sc = new Scanner(line.value);
  const state = sc.token().toLowerCase();
  const params = readParams(sc);
  if (!state) return bad('Subscription-State', `the state must be a token (${rule})`);
  if (typeof params === 'string') return bad('Subscription-State', `${params} (${rule})`);
  if (!sc.atEnd()) return bad('Subscription-State', `unexpected text after the state (${rule})`);
  const out: SubscriptionState = { state, params };
  const reason = params.get('reason');
  if (reason !== undefined) {
    if (reason === null || !isToken(reason)) return bad('Subscription-State', `reason must be a token (${rule})`);
    out.reason = reason.toLowerCase();
  }
  for (const [key, field] of [['expires', 'expires'], ['retry-after', 'retryAfter']] as const) {
    const v = params.get(key);
    if (v === undefined) continue;
    const n = deltaSeconds(v);
    if (n === undefined) return bad('Subscription-State', `${key} must be delta-seconds (${rule})`);
    out[field] = n;
  }
  return ok(out);
}

function readEntityTag(src: HeaderSource, name: 'SIP-ETag' | 'SIP-If-Match', rule: string): SipResult<string | undefined> {
  const line = single(src, name, rule);
  if (!line.ok || line.value === undefined) return line;
  return isToken(line.value) ? line : bad(name, `the entity-tag must be a token (${rule})`);
}

export function readSipETag(src: HeaderSource): SipResult<string | undefined> {
  return readEntityTag(src, 'SIP-ETag', 'RFC 3903 §11.3.1');
}

export function readSipIfMatch(src: HeaderSource): SipResult<string | undefined> {
  return readEntityTag(src, 'SIP-If-Match', 'RFC 3903 §11.3.2');
}

function readTokenList(src: HeaderSource, name: string, rule: string, valid: (s: string) => boolean): SipResult<string[]> {
  const values = headersOf(src).getAll(name);
  for (const v of values) if (!valid(v)) return bad(name, `each value must be a token, separated by commas (${rule})`);
  return ok(values);
}

/** The event types listed; [] when absent. */
export function readAllowEvents(src: HeaderSource): SipResult<string[]> {
  return readTokenList(src, 'Allow-Events', 'RFC 6665 §8.2.2', isEventType);
}

/** The option tags listed; [] when absent or empty. */
export function readSupported(src: HeaderSource): SipResult<string[]> {
  return readTokenList(src, 'Supported', 'RFC 3261 §20.37', isToken);
}

export function readRequire(src: HeaderSource): SipResult<string[]> {
  return readTokenList(src, 'Require', 'RFC 3261 §20.32', isToken);
}
