/**
 * The presence engine's vocabulary (SPEC §3). It knows neither protocol: an
 * XMPP resource, a SIP publication, a phone line and a calendar each become a
 * PresenceTuple at their edge, and the engine composes them (aggregate.ts)
 * and decides what each watcher may see (view.ts). Rendering back to
 * <presence/> or PIDF/RPID (RFC 7248 mapping) happens at the edges too.
 */

/** XMPP's <show/> values (RFC 6121 §4.7.2.1) plus 'available' for "no <show/>". */
export type Show = 'available' | 'chat' | 'away' | 'xa' | 'dnd';

export type SourceKind = 'xmpp' | 'sip' | 'phone' | 'calendar';

export const SHOWS: readonly Show[] = ['available', 'chat', 'away', 'xa', 'dnd'];
export const SOURCE_KINDS: readonly SourceKind[] = ['xmpp', 'sip', 'phone', 'calendar'];

export interface PresenceTuple {
  /** xmpp: the resource; sip: the ETag/publication id; phone: the line's directory number; calendar: the calendar id. */
  source: { kind: SourceKind; id: string };
  /** false = this source says unavailable/closed. */
  available: boolean;
  /** For xmpp as sent; for other sources the closest equivalent. */
  show: Show;
  /** Free text (XMPP <status/>, PIDF note). */
  status: string | null;
  /** XMPP priority (-128..127); others 0. */
  priority: number;
  /** phone/sip sources. */
  onThePhone?: boolean;
  /** calendar source. */
  inMeeting?: boolean;
  /** ms since the epoch. */
  updatedAt: number;
}

export type ComposedState = 'available' | 'away' | 'dnd' | 'unavailable' | 'custom';

export const COMPOSED_STATES: readonly ComposedState[] = ['available', 'away', 'dnd', 'unavailable', 'custom'];

export interface Composed {
  state: ComposedState;
  text: string | null;
  onThePhone: boolean;
  inMeeting: boolean;
  /** The xmpp source that won, if any. */
  top: string | null;
}

/** The texts the engine itself sets when phone or calendar state makes a user busy. */
export const ON_THE_PHONE_TEXT = 'On the phone';
export const IN_A_MEETING_TEXT = 'In a meeting';

/** What a user with no available source looks like, and what a watcher who may not see sees. */
export const UNAVAILABLE: Readonly<Composed> = Object.freeze({
  state: 'unavailable', text: null, onThePhone: false, inMeeting: false, top: null,
});
