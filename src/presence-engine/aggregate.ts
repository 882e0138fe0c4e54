/**
 * Composed presence (SPEC §3): one pure, deterministic function from a user's
 * presence tuples to what the user's watchers are shown. docs/presence-engine.md
 * holds the same rules as a table.
 *
 * 1. Availability comes only from XMPP and SIP tuples. The user is
 *    `unavailable` when no xmpp/sip tuple is available. Phone and calendar
 *    tuples never make a user available, whatever their `available` says: a
 *    desk phone that is registered says nothing about whether its owner is
 *    signed in. They only add flags (rule 5).
 * 2. The winner among available xmpp/sip tuples: highest priority; on a tie
 *    the most recent updatedAt; then the smaller source id (code-unit order);
 *    then xmpp before sip (and, only so that any input has one answer, show
 *    and status). Negative priorities count for presence (RFC 6121 §4.7.2.3
 *    keeps them from messages, not from presence).
 * 3. The winner's show: chat/available → available, away/xa → away,
 *    dnd → dnd. Its status text (empty or blank means none) becomes `text`
 *    whatever the state; an `available` winner with a text is `custom`.
 * 4. `top` is the winner's resource when the winner is an xmpp tuple, else null.
 * 5. Flags: `onThePhone` when any phone or sip tuple says onThePhone (one
 *    line in a call is enough); `inMeeting` when any calendar tuple says
 *    inMeeting. Flags on other kinds are ignored. Flags are facts about the
 *    phone and the calendar, so they are reported whatever the availability
 *    (and whatever the tuple's own `available`): an unavailable user on the
 *    phone is `unavailable` with onThePhone=true.
 * 6. An explicit DND (a dnd winner) is never changed: the flags ride along,
 *    the text stays the user's.
 * 7. Otherwise an available user (available, custom or away — being on a
 *    call contradicts an away) who is on the phone or in a meeting becomes
 *    `dnd`, with the user's own text when there is one, else "On the phone"
 *    (which wins when both flags hold) or "In a meeting".
 */
import {
  IN_A_MEETING_TEXT, ON_THE_PHONE_TEXT, SHOWS,
  type Composed, type ComposedState, type PresenceTuple, type Show,
} from './model.js';

/** Numbers from the edges should be finite; NaN would make the order partial, so it counts as 0. */
const num = (n: number): number => (Number.isFinite(n) ? n : 0);

/** Code-unit order: the same everywhere, unlike localeCompare. */
const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Negative when `a` outranks `b` (rule 2). A total order on everything that reaches the output. */
export function compareTuples(a: PresenceTuple, b: PresenceTuple): number {
  return num(b.priority) - num(a.priority)
    || num(b.updatedAt) - num(a.updatedAt)
    || cmpStr(a.source.id, b.source.id)
    || (a.source.kind === b.source.kind ? 0 : a.source.kind === 'xmpp' ? -1 : 1)
    || SHOWS.indexOf(a.show) - SHOWS.indexOf(b.show)
    || cmpStr(a.status ?? '', b.status ?? '');
}

/** Only these kinds carry availability (rule 1). */
export function carriesAvailability(t: PresenceTuple): boolean {
  return t.source.kind === 'xmpp' || t.source.kind === 'sip';
}

/** Rule 3's mapping of a winner's show. */
export function stateOfShow(show: Show): 'available' | 'away' | 'dnd' {
  switch (show) {
    case 'available':
    case 'chat':
      return 'available';
    case 'away':
    case 'xa':
      return 'away';
    case 'dnd':
      return 'dnd';
  }
}

const userText = (status: string | null): string | null =>
  status === null || status.trim() === '' ? null : status;

export function aggregate(tuples: readonly PresenceTuple[]): Composed {
  let onThePhone = false;
  let inMeeting = false;
  let winner: PresenceTuple | null = null;
  for (const t of tuples) {
    if (t.onThePhone === true && (t.source.kind === 'phone' || t.source.kind === 'sip')) onThePhone = true;
    if (t.inMeeting === true && t.source.kind === 'calendar') inMeeting = true;
    if (t.available && carriesAvailability(t) && (winner === null || compareTuples(t, winner) < 0)) winner = t;
  }
  if (winner === null) return { state: 'unavailable', text: null, onThePhone, inMeeting, top: null };

  const top = winner.source.kind === 'xmpp' ? winner.source.id : null;
  const text = userText(winner.status);
  const shown = stateOfShow(winner.show);
  let state: ComposedState = shown;
  let composedText = text;
  if (shown !== 'dnd' && (onThePhone || inMeeting)) {
    state = 'dnd';
    composedText = text ?? (onThePhone ? ON_THE_PHONE_TEXT : IN_A_MEETING_TEXT);
  } else if (shown === 'available' && text !== null) {
    state = 'custom';
  }
  return { state, text: composedText, onThePhone, inMeeting, top };
}
