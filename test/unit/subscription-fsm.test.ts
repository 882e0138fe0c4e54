import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  EVENTS, NONE, STATES, eventName, invalidReason, sameState, stateName, transition,
  type SubEffects, type SubEvent, type SubState, type SubscriptionStanza,
} from '../../src/roster/subscription-fsm.js';

// ---------------------------------------------------------------------------
// Short names for the twelve states: Appendix A.1's nine, then the three that
// can hold a pre-approval (§3.4).
const S: Record<string, SubState> = {
  N: { subscription: 'none', ask: false, pendingIn: false, approved: false },
  NO: { subscription: 'none', ask: true, pendingIn: false, approved: false },
  NI: { subscription: 'none', ask: false, pendingIn: true, approved: false },
  NOI: { subscription: 'none', ask: true, pendingIn: true, approved: false },
  T: { subscription: 'to', ask: false, pendingIn: false, approved: false },
  TI: { subscription: 'to', ask: false, pendingIn: true, approved: false },
  F: { subscription: 'from', ask: false, pendingIn: false, approved: false },
  FO: { subscription: 'from', ask: true, pendingIn: false, approved: false },
  B: { subscription: 'both', ask: false, pendingIn: false, approved: false },
  NA: { subscription: 'none', ask: false, pendingIn: false, approved: true },
  NOA: { subscription: 'none', ask: true, pendingIn: false, approved: true },
  TA: { subscription: 'to', ask: false, pendingIn: false, approved: true },
};
const labelOf = (s: SubState): string => Object.keys(S).find((k) => sameState(S[k], s)) ?? JSON.stringify(s);
const ev = (name: string): SubEvent => {
  const [dir, type] = name.split(' ');
  return { dir, type } as SubEvent;
};

// ---------------------------------------------------------------------------
// The table, by hand from RFC 6121 Appendix A (A.2.1-A.2.4, A.3.1-A.3.4), §3.4
// (pre-approval) and §2.5.2 (roster removal). Columns:
//   state | event | next ('=' no state change, 'gone' item removed) | sent to the contact |
//   delivered to the user | presence effects | roster push
const TABLE = `
# A.2.1 outbound subscribe: ROUTE? yes in every state
N   | out subscribe    | NO   | subscribe | no  | - | push
NO  | out subscribe    | =    | subscribe | no  | - | -
NI  | out subscribe    | NOI  | subscribe | no  | - | push
NOI | out subscribe    | =    | subscribe | no  | - | -
T   | out subscribe    | =    | subscribe | no  | - | -
TI  | out subscribe    | =    | subscribe | no  | - | -
F   | out subscribe    | FO   | subscribe | no  | - | push
FO  | out subscribe    | =    | subscribe | no  | - | -
B   | out subscribe    | =    | subscribe | no  | - | -
NA  | out subscribe    | NOA  | subscribe | no  | - | push
NOA | out subscribe    | =    | subscribe | no  | - | -
TA  | out subscribe    | =    | subscribe | no  | - | -
# A.2.2 outbound unsubscribe: ROUTE? yes in every state
N   | out unsubscribe  | =    | unsubscribe | no | - | -
NO  | out unsubscribe  | N    | unsubscribe | no | - | push
NI  | out unsubscribe  | =    | unsubscribe | no | - | -
NOI | out unsubscribe  | NI   | unsubscribe | no | - | push
T   | out unsubscribe  | N    | unsubscribe | no | - | push
TI  | out unsubscribe  | NI   | unsubscribe | no | - | push
F   | out unsubscribe  | =    | unsubscribe | no | - | -
FO  | out unsubscribe  | F    | unsubscribe | no | - | push
B   | out unsubscribe  | F    | unsubscribe | no | - | push
NA  | out unsubscribe  | =    | unsubscribe | no | - | -
NOA | out unsubscribe  | NA   | unsubscribe | no | - | push
TA  | out unsubscribe  | NA   | unsubscribe | no | - | push
# A.2.3 outbound subscribed; "pre-approval" rows per §3.4.2 (MUST NOT route)
N   | out subscribed   | NA   | -          | no | -            | push
NO  | out subscribed   | NOA  | -          | no | -            | push
NI  | out subscribed   | F    | subscribed | no | send-current | push
NOI | out subscribed   | FO   | subscribed | no | send-current | push
T   | out subscribed   | TA   | -          | no | -            | push
TI  | out subscribed   | B    | subscribed | no | send-current | push
F   | out subscribed   | =    | -          | no | -            | -
FO  | out subscribed   | =    | -          | no | -            | -
B   | out subscribed   | =    | -          | no | -            | -
NA  | out subscribed   | =    | -          | no | -            | -
NOA | out subscribed   | =    | -          | no | -            | -
TA  | out subscribed   | =    | -          | no | -            | -
# A.2.4 outbound unsubscribed; unavailable first when from is lost (§3.2.2); cancels a pre-approval (§3.4)
N   | out unsubscribed | =    | -            | no | -                | -
NO  | out unsubscribed | =    | -            | no | -                | -
NI  | out unsubscribed | N    | unsubscribed | no | -                | -
NOI | out unsubscribed | NO   | unsubscribed | no | -                | -
T   | out unsubscribed | =    | -            | no | -                | -
TI  | out unsubscribed | T    | unsubscribed | no | -                | -
F   | out unsubscribed | N    | unsubscribed | no | send-unavailable | push
FO  | out unsubscribed | NO   | unsubscribed | no | send-unavailable | push
B   | out unsubscribed | T    | unsubscribed | no | send-unavailable | push
NA  | out unsubscribed | N    | -            | no | -                | push
NOA | out unsubscribed | NO   | -            | no | -                | push
TA  | out unsubscribed | T    | -            | no | -                | push
# §2.5.2 roster removal (item gone; pending requests withdrawn too)
N   | out remove | gone | -                        | no | -                | push
NO  | out remove | gone | unsubscribe              | no | -                | push
NI  | out remove | gone | unsubscribed             | no | -                | push
NOI | out remove | gone | unsubscribe,unsubscribed | no | -                | push
T   | out remove | gone | unsubscribe              | no | -                | push
TI  | out remove | gone | unsubscribe,unsubscribed | no | -                | push
F   | out remove | gone | unsubscribed             | no | send-unavailable | push
FO  | out remove | gone | unsubscribe,unsubscribed | no | send-unavailable | push
B   | out remove | gone | unsubscribe,unsubscribed | no | send-unavailable | push
NA  | out remove | gone | -                        | no | -                | push
NOA | out remove | gone | unsubscribe              | no | -                | push
TA  | out remove | gone | unsubscribe              | no | -                | push
# A.3.1 inbound subscribe; * rows auto-reply subscribed (§3.1.3); pre-approved: auto-approve (§3.4.2)
N   | in subscribe | NI  | -          | yes | -            | -
NO  | in subscribe | NOI | -          | yes | -            | -
NI  | in subscribe | =   | -          | no  | -            | -
NOI | in subscribe | =   | -          | no  | -            | -
T   | in subscribe | TI  | -          | yes | -            | -
TI  | in subscribe | =   | -          | no  | -            | -
F   | in subscribe | =   | subscribed | no  | -            | -
FO  | in subscribe | =   | subscribed | no  | -            | -
B   | in subscribe | =   | subscribed | no  | -            | -
NA  | in subscribe | F   | subscribed | no  | send-current | push
NOA | in subscribe | FO  | subscribed | no  | send-current | push
TA  | in subscribe | B   | subscribed | no  | send-current | push
# A.3.3 inbound subscribed (only answers ask)
N   | in subscribed | =   | - | no  | -     | -
NO  | in subscribed | T   | - | yes | probe | push
NI  | in subscribed | =   | - | no  | -     | -
NOI | in subscribed | TI  | - | yes | probe | push
T   | in subscribed | =   | - | no  | -     | -
TI  | in subscribed | =   | - | no  | -     | -
F   | in subscribed | =   | - | no  | -     | -
FO  | in subscribed | B   | - | yes | probe | push
B   | in subscribed | =   | - | no  | -     | -
NA  | in subscribed | =   | - | no  | -     | -
NOA | in subscribed | TA  | - | yes | probe | push
TA  | in subscribed | =   | - | no  | -     | -
# A.3.2 inbound unsubscribe; the contact's presence to the user stops (§3.3.3)
N   | in unsubscribe | =   | - | no  | -                | -
NO  | in unsubscribe | =   | - | no  | -                | -
NI  | in unsubscribe | N   | - | yes | -                | -
NOI | in unsubscribe | NO  | - | yes | -                | -
T   | in unsubscribe | =   | - | no  | -                | -
TI  | in unsubscribe | T   | - | yes | -                | -
F   | in unsubscribe | N   | - | yes | send-unavailable | push
FO  | in unsubscribe | NO  | - | yes | send-unavailable | push
B   | in unsubscribe | T   | - | yes | send-unavailable | push
NA  | in unsubscribe | =   | - | no  | -                | -
NOA | in unsubscribe | =   | - | no  | -                | -
TA  | in unsubscribe | =   | - | no  | -                | -
# A.3.4 inbound unsubscribed
N   | in unsubscribed | =   | - | no  | - | -
NO  | in unsubscribed | N   | - | yes | - | push
NI  | in unsubscribed | =   | - | no  | - | -
NOI | in unsubscribed | NI  | - | yes | - | push
T   | in unsubscribed | N   | - | yes | - | push
TI  | in unsubscribed | NI  | - | yes | - | push
F   | in unsubscribed | =   | - | no  | - | -
FO  | in unsubscribed | F   | - | yes | - | push
B   | in unsubscribed | F   | - | yes | - | push
NA  | in unsubscribed | =   | - | no  | - | -
NOA | in unsubscribed | NA  | - | yes | - | push
TA  | in unsubscribed | NA  | - | yes | - | push
# the contact removed the user (§2.5.2): inbound unsubscribe + unsubscribed
N   | in remove | =   | - | no  | -                | -
NO  | in remove | N   | - | yes | -                | push
NI  | in remove | N   | - | yes | -                | -
NOI | in remove | N   | - | yes | -                | push
T   | in remove | N   | - | yes | -                | push
TI  | in remove | N   | - | yes | -                | push
F   | in remove | N   | - | yes | send-unavailable | push
FO  | in remove | N   | - | yes | send-unavailable | push
B   | in remove | N   | - | yes | send-unavailable | push
NA  | in remove | =   | - | no  | -                | -
NOA | in remove | NA  | - | yes | -                | push
TA  | in remove | NA  | - | yes | -                | push
`;

interface Row { from: string; event: string; next: string; send: string[]; deliver: boolean; presence: string[]; push: boolean; line: string }
const list = (cell: string): string[] => (cell === '-' ? [] : cell.split(','));
const ROWS: Row[] = TABLE.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((line) => {
  const [from, event, next, send, deliver, presence, push] = line.split('|').map((c) => c.trim());
  return { from, event, next, send: list(send), deliver: deliver === 'yes', presence: list(presence), push: push === 'push', line };
});

describe('subscription FSM: the RFC 6121 Appendix A table, cell by cell', () => {
  it('covers every state in STATES and every one of the 10 events exactly once', () => {
    assert.equal(STATES.length, 12);
    assert.equal(EVENTS.length, 10);
    assert.deepEqual(STATES.map(labelOf), Object.keys(S));
    const cells = new Set(ROWS.map((r) => `${r.from}/${r.event}`));
    assert.equal(ROWS.length, STATES.length * EVENTS.length);
    assert.equal(cells.size, ROWS.length);
    for (const s of STATES) for (const e of EVENTS) assert.ok(cells.has(`${labelOf(s)}/${eventName(e)}`), `${labelOf(s)} ${eventName(e)} is missing`);
  });

  for (const row of ROWS) {
    it(`${stateName(S[row.from])} + ${row.event} → ${row.next === '=' ? 'no state change' : row.next === 'gone' ? 'removed' : stateName(S[row.next])}`, () => {
      const fx = transition(S[row.from], ev(row.event));
      const expected = row.next === 'gone' ? null : row.next === '=' ? S[row.from] : S[row.next];
      assert.deepEqual(fx.state, expected, row.line);
      assert.equal(fx.changed, row.next !== '=', `changed: ${row.line}`);
      assert.deepEqual(fx.send, row.send, `send: ${row.line}`);
      assert.equal(fx.deliverToUser, row.deliver, `deliver: ${row.line}`);
      assert.deepEqual(fx.presence, row.presence, `presence: ${row.line}`);
      assert.equal(fx.push, row.push, `push: ${row.line}`);
      assert.equal(fx.hidden, false, `hidden: ${row.line}`);
    });
  }
});

// ---------------------------------------------------------------------------
// A second implementation, as plainly as possible: Appendix A's tables as
// lookups over the RFC state names, pre-approval as §3.4's three sentences,
// effects read off what changed. It shares nothing with the module.
type Name = 'None' | 'None+Out' | 'None+In' | 'None+Out+In' | 'To' | 'To+In' | 'From' | 'From+Out' | 'Both';
const NAMES: Record<Name, [SubState['subscription'], boolean, boolean]> = {
  'None': ['none', false, false], 'None+Out': ['none', true, false], 'None+In': ['none', false, true],
  'None+Out+In': ['none', true, true], 'To': ['to', false, false], 'To+In': ['to', false, true],
  'From': ['from', false, false], 'From+Out': ['from', true, false], 'Both': ['both', false, false],
};
const nameOf = (s: SubState): Name => (Object.keys(NAMES) as Name[]).find((n) =>
  NAMES[n][0] === s.subscription && NAMES[n][1] === s.ask && NAMES[n][2] === s.pendingIn)!;
// [route or deliver?, new state or '=' for no state change], rows in Appendix A's order.
type Col = [boolean, Name | '='];
const ORDER: Name[] = ['None', 'None+Out', 'None+In', 'None+Out+In', 'To', 'To+In', 'From', 'From+Out', 'Both'];
const tbl = (...cols: Col[]): Record<Name, Col> => Object.fromEntries(ORDER.map((n, i) => [n, cols[i]])) as Record<Name, Col>;
const y = true, n = false;
const A: Record<string, Record<Name, Col>> = {
  'out subscribe': tbl([y, 'None+Out'], [y, '='], [y, 'None+Out+In'], [y, '='], [y, '='], [y, '='], [y, 'From+Out'], [y, '='], [y, '=']),
  'out unsubscribe': tbl([y, '='], [y, 'None'], [y, '='], [y, 'None+In'], [y, 'None'], [y, 'None+In'], [y, '='], [y, 'From'], [y, 'From']),
  'out subscribed': tbl([n, '='], [n, '='], [y, 'From'], [y, 'From+Out'], [n, '='], [y, 'Both'], [n, '='], [n, '='], [n, '=']),
  'out unsubscribed': tbl([n, '='], [n, '='], [y, 'None'], [y, 'None+Out'], [n, '='], [y, 'To'], [y, 'None'], [y, 'None+Out'], [y, 'To']),
  'in subscribe': tbl([y, 'None+In'], [y, 'None+Out+In'], [n, '='], [n, '='], [y, 'To+In'], [n, '='], [n, '='], [n, '='], [n, '=']),
  'in unsubscribe': tbl([n, '='], [n, '='], [y, 'None'], [y, 'None+Out'], [n, '='], [y, 'To'], [y, 'None'], [y, 'None+Out'], [y, 'To']),
  'in subscribed': tbl([n, '='], [y, 'To'], [n, '='], [y, 'To+In'], [n, '='], [n, '='], [n, '='], [y, 'Both'], [n, '=']),
  'in unsubscribed': tbl([n, '='], [y, 'None'], [n, '='], [y, 'None+In'], [y, 'None'], [y, 'None+In'], [n, '='], [y, 'From'], [y, 'From']),
};
const mk = (name: Name, approved: boolean): SubState => ({ subscription: NAMES[name][0], ask: NAMES[name][1], pendingIn: NAMES[name][2], approved });
const fromOf = (name: Name): boolean => name === 'From' || name === 'From+Out' || name === 'Both';
const toOf = (name: Name): boolean => name === 'To' || name === 'To+In' || name === 'Both';

interface RefItem { state: SubState; hidden: boolean }
interface RefOut { item: RefItem | null; send: SubscriptionStanza[]; deliver: boolean; presence: string[] }

function refStanza(s: SubState, key: string): { state: SubState; send: SubscriptionStanza[]; deliver: boolean } {
  const name = nameOf(s);
  const [dir, type] = key.split(' ') as ['in' | 'out', SubscriptionStanza];
  // §3.4.2: out subscribed in None / None+Out / To is a pre-approval; not routed.
  if (key === 'out subscribed' && (name === 'None' || name === 'None+Out' || name === 'To')) return { state: { ...s, approved: true }, send: [], deliver: false };
  // §3.4: out unsubscribed cancels a pre-approval.
  if (key === 'out unsubscribed' && s.approved) return { state: { ...s, approved: false }, send: [], deliver: false };
  // §3.4.2: in subscribe when pre-approved: not delivered, approved as if the user sent subscribed.
  if (key === 'in subscribe' && s.approved) {
    const next = A['out subscribed'][name === 'None' ? 'None+In' : name === 'None+Out' ? 'None+Out+In' : 'To+In'][1] as Name;
    return { state: mk(next, false), send: ['subscribed'], deliver: false };
  }
  const [yes, next] = A[key][name];
  const state = next === '=' ? s : mk(next, s.approved);
  // §3.1.3 (A.3.1 "*"): in subscribe with from/both: auto-reply subscribed.
  const autoReply: SubscriptionStanza[] = key === 'in subscribe' && fromOf(name) ? ['subscribed'] : [];
  return dir === 'out' ? { state, send: yes ? [type] : [], deliver: false } : { state, send: autoReply, deliver: yes };
}

function reference(item: RefItem | null, e: SubEvent): RefOut {
  const s = item?.state ?? NONE;
  const key = eventName(e);
  let next: SubState | null;
  let send: SubscriptionStanza[] = [];
  let deliver = false;
  if (key === 'out remove') {
    // §2.5.2, plus the pending requests.
    if (toOf(nameOf(s)) || s.ask) send.push('unsubscribe');
    if (fromOf(nameOf(s)) || s.pendingIn) send.push('unsubscribed');
    next = null;
  } else if (key === 'in remove') {
    const a = refStanza(s, 'in unsubscribe');
    const b = refStanza(a.state, 'in unsubscribed');
    next = b.state;
    deliver = a.deliver || b.deliver;
  } else {
    const r = refStanza(s, key);
    next = r.state;
    send = r.send;
    deliver = r.deliver;
  }
  const before = nameOf(s);
  const after = next === null ? 'None' : nameOf(next);
  const presence: string[] = [];
  if (fromOf(before) && !fromOf(after)) presence.push('send-unavailable');
  if (!fromOf(before) && fromOf(after)) presence.push('send-current');
  if (!toOf(before) && toOf(after)) presence.push('probe');

  let out: RefItem | null;
  if (next === null) out = null;
  else if (item === null || item.hidden) {
    // A hidden item (or none) is kept only while it remembers something (§3.2.2, §3.3.3:
    // a denied request leaves no record); the user changing it puts it on the roster.
    const remembers = next.subscription !== 'none' || next.ask || next.pendingIn || next.approved;
    const userActed = e.dir === 'out' && !sameState(next, s);
    out = !remembers ? null : { state: next, hidden: !userActed };
  } else out = { state: next, hidden: false };
  return { item: out, send, deliver, presence };
}

const fxItem = (fx: SubEffects): RefItem | null => (fx.state === null ? null : { state: fx.state, hidden: fx.hidden });
const sameItem = (a: RefItem | null, b: RefItem | null): boolean =>
  a === null || b === null ? a === b : sameState(a.state, b.state) && a.hidden === b.hidden;
const hasTo = (s: SubState | null): boolean => s !== null && (s.subscription === 'to' || s.subscription === 'both');
const hasFrom = (s: SubState | null): boolean => s !== null && (s.subscription === 'from' || s.subscription === 'both');

function runStep(item: RefItem | null, e: SubEvent, where: string): RefItem | null {
  const fx = transition(item?.state ?? NONE, e, { hidden: item === null || item.hidden });
  const ref = reference(item, e);
  const after = fxItem(fx);
  assert.deepEqual({ item: after, send: fx.send, deliver: fx.deliverToUser, presence: fx.presence },
    { item: ref.item, send: ref.send, deliver: ref.deliver, presence: ref.presence }, `reference disagrees: ${where}`);

  // Invariants of Appendix A.1 and §3.4.
  if (fx.state !== null) {
    assert.equal(invalidReason(fx.state), null, `reachable state is invalid: ${where}`);
    assert.ok(!(fx.state.pendingIn && hasFrom(fx.state)), `pendingIn with from/both: ${where}`);
    assert.ok(!(fx.state.ask && hasTo(fx.state)), `ask with to/both: ${where}`);
    assert.ok(!(fx.state.approved && (hasFrom(fx.state) || fx.state.pendingIn)), `approved with from/both/pendingIn: ${where}`);
    assert.ok(STATES.some((s) => sameState(s, fx.state!)), `state outside STATES: ${where}`);
  }
  // changed exactly when the stored item differs; a push only for a change.
  assert.equal(fx.changed, !sameItem(item, after), `changed: ${where}`);
  if (fx.push) assert.ok(fx.changed, `push without change: ${where}`);
  // A hidden item only remembers an inbound request.
  if (fx.hidden) assert.deepEqual(fx.state, { ...NONE, pendingIn: true }, `hidden item holds more than pendingIn: ${where}`);
  // Presence follows the subscription: probe only on gaining to; current on gaining from; unavailable on losing from.
  const s = item?.state ?? NONE;
  assert.equal(fx.presence.includes('probe'), !hasTo(s) && hasTo(fx.state), `probe: ${where}`);
  assert.equal(fx.presence.includes('send-current'), !hasFrom(s) && hasFrom(fx.state), `send-current: ${where}`);
  assert.equal(fx.presence.includes('send-unavailable'), hasFrom(s) && !hasFrom(fx.state), `send-unavailable: ${where}`);
  // Out events are never delivered; in events only ever auto-reply subscribed.
  if (e.dir === 'out') assert.equal(fx.deliverToUser, false, `out event delivered: ${where}`);
  else assert.ok(fx.send.every((x) => x === 'subscribed'), `in event sends ${fx.send.join()}: ${where}`);
  // An inbound subscribe is delivered only when nothing answers it already.
  if (eventName(e) === 'in subscribe') assert.equal(fx.deliverToUser, !s.pendingIn && !s.approved && !hasFrom(s), `deliver subscribe: ${where}`);
  return after;
}

describe('subscription FSM: every ordered pair of events from every state, against a reference implementation', () => {
  const starts: Array<[string, RefItem | null]> = [
    ...STATES.map((s): [string, RefItem | null] => [stateName(s), { state: s, hidden: false }]),
    ['no item', null],
    ['a hidden request', { state: { ...NONE, pendingIn: true }, hidden: true }],
  ];
  let sequences = 0;
  for (const [label, start] of starts) {
    it(`from ${label}: all 100 sequences agree and keep the invariants`, () => {
      for (const e1 of EVENTS) {
        for (const e2 of EVENTS) {
          const where = `${label} → ${eventName(e1)} → ${eventName(e2)}`;
          const mid = runStep(start, e1, where + ' (first)');
          runStep(mid, e2, where + ' (second)');
          // Idempotence: the same event twice changes nothing the second time, and is not re-delivered.
          if (eventName(e1) === eventName(e2)) {
            const again = transition(mid?.state ?? NONE, e2, { hidden: mid === null || mid.hidden });
            assert.equal(again.changed, false, `repeat changed state: ${where}`);
            assert.equal(again.deliverToUser, false, `repeat delivered again: ${where}`);
            assert.deepEqual(again.presence, [], `repeat has presence effects: ${where}`);
          }
          sequences++;
        }
      }
    });
  }
  after(() => assert.equal(sequences, starts.length * 100));
});

// ---------------------------------------------------------------------------
// Both sides at once: alice's item for bob and bob's item for alice. What one
// server sends to the contact arrives at the other as an in event.
type User = 'alice' | 'bob';
class Pair {
  items: Record<User, RefItem | null> = { alice: null, bob: null };
  log: string[] = [];
  private other = (u: User): User => (u === 'alice' ? 'bob' : 'alice');

  private apply(u: User, e: SubEvent): void {
    const item = this.items[u];
    const fx = transition(item?.state ?? NONE, e, { hidden: item === null || item.hidden });
    this.items[u] = fxItem(fx);
    const peer = this.other(u);
    if (fx.push) this.log.push(`${u} gets a roster push`);
    if (fx.deliverToUser) this.log.push(`${u} is shown ${e.type} from ${peer}`);
    for (const p of fx.presence.filter((x) => x === 'send-unavailable')) this.log.push(`${u}'s server: ${p} to ${peer}`);
    for (const stanza of fx.send) {
      this.log.push(`${u}'s server sends ${stanza} to ${peer}`);
      this.apply(peer, { dir: 'in', type: stanza });
    }
    for (const p of fx.presence.filter((x) => x !== 'send-unavailable')) this.log.push(`${u}'s server: ${p} to ${peer}`);
  }
  sends(u: User, type: SubscriptionStanza): this { this.apply(u, { dir: 'out', type }); return this; }
  removes(u: User): this { this.apply(u, { dir: 'out', type: 'remove' }); return this; }
  sub(u: User): string { const i = this.items[u]; return i === null ? 'no item' : `${stateName(i.state)}${i.hidden ? ' (hidden)' : ''}`; }
  clearLog(): this { this.log = []; return this; }
}

describe('subscription FSM: scenarios on both sides', () => {
  it('alice subscribes to bob, bob approves: alice has to, bob has from', () => {
    const w = new Pair().sends('alice', 'subscribe');
    assert.equal(w.sub('alice'), 'None + Pending Out');
    assert.equal(w.sub('bob'), 'None + Pending In (hidden)', 'bob keeps the request but his roster does not show it');
    assert.deepEqual(w.log, ['alice gets a roster push', "alice's server sends subscribe to bob", 'bob is shown subscribe from alice']);
    w.clearLog().sends('bob', 'subscribed');
    assert.equal(w.sub('alice'), 'To');
    assert.equal(w.sub('bob'), 'From');
    assert.deepEqual(w.log, [
      'bob gets a roster push', "bob's server sends subscribed to alice",
      'alice gets a roster push', 'alice is shown subscribed from bob', "alice's server: probe to bob",
      "bob's server: send-current to alice",
    ]);
  });

  it('alice asking twice while bob has not answered reaches bob once', () => {
    const w = new Pair().sends('alice', 'subscribe').clearLog().sends('alice', 'subscribe');
    assert.deepEqual(w.log, ["alice's server sends subscribe to bob"], 'routed again (A.2.1), not shown to bob again (A.3.1)');
    assert.equal(w.sub('bob'), 'None + Pending In (hidden)');
  });

  it('bob pre-approves alice; her later request is approved without asking him', () => {
    const w = new Pair().sends('bob', 'subscribed');
    assert.equal(w.sub('bob'), 'None + Pre-approved');
    assert.deepEqual(w.log, ['bob gets a roster push'], 'the pre-approval is not routed to alice (§3.4.2)');
    assert.equal(w.sub('alice'), 'no item');
    w.clearLog().sends('alice', 'subscribe');
    assert.equal(w.sub('alice'), 'To');
    assert.equal(w.sub('bob'), 'From', 'the pre-approval is used up');
    assert.ok(!w.log.some((l) => l.startsWith('bob is shown')), 'bob is not asked');
    assert.ok(w.log.includes("bob's server sends subscribed to alice"));
    assert.ok(w.log.includes("bob's server: send-current to alice"));
  });

  it('bob withdraws a pre-approval with unsubscribed: alice must ask again', () => {
    const w = new Pair().sends('bob', 'subscribed').sends('bob', 'unsubscribed');
    assert.equal(w.sub('bob'), 'None');
    w.clearLog().sends('alice', 'subscribe');
    assert.equal(w.sub('bob'), 'None + Pending In');
    assert.ok(w.log.includes('bob is shown subscribe from alice'));
  });

  it('mutual subscription: both end with both', () => {
    const w = new Pair().sends('alice', 'subscribe').sends('bob', 'subscribed').sends('bob', 'subscribe');
    assert.equal(w.sub('bob'), 'From + Pending Out');
    assert.equal(w.sub('alice'), 'To + Pending In');
    w.sends('alice', 'subscribed');
    assert.equal(w.sub('alice'), 'Both');
    assert.equal(w.sub('bob'), 'Both');
  });

  it('both ask at once, both approve: both', () => {
    const w = new Pair().sends('alice', 'subscribe').sends('bob', 'subscribe');
    assert.equal(w.sub('alice'), 'None + Pending Out+In');
    assert.equal(w.sub('bob'), 'None + Pending Out+In');
    w.sends('alice', 'subscribed').sends('bob', 'subscribed');
    assert.deepEqual([w.sub('alice'), w.sub('bob')], ['Both', 'Both']);
  });

  it('bob denies alice: his hidden record goes, alice is back to none', () => {
    const w = new Pair().sends('alice', 'subscribe').clearLog().sends('bob', 'unsubscribed');
    assert.equal(w.sub('bob'), 'no item');
    assert.equal(w.sub('alice'), 'None');
    assert.deepEqual(w.log, ["bob's server sends unsubscribed to alice", 'alice gets a roster push', 'alice is shown unsubscribed from bob']);
  });

  it('bob cancels alice\'s subscription: unavailable first, then unsubscribed; alice loses to', () => {
    const w = new Pair().sends('alice', 'subscribe').sends('bob', 'subscribed').clearLog().sends('bob', 'unsubscribed');
    assert.deepEqual([w.sub('alice'), w.sub('bob')], ['None', 'None']);
    assert.deepEqual(w.log.slice(0, 2), ["bob gets a roster push", "bob's server: send-unavailable to alice"]);
    assert.equal(w.log[2], "bob's server sends unsubscribed to alice");
  });

  it('alice unsubscribes from bob: bob loses from and stops sending presence', () => {
    const w = new Pair().sends('alice', 'subscribe').sends('bob', 'subscribed').sends('bob', 'subscribe').sends('alice', 'subscribed');
    w.clearLog().sends('alice', 'unsubscribe');
    assert.deepEqual([w.sub('alice'), w.sub('bob')], ['From', 'To']);
    assert.ok(w.log.includes("bob's server: send-unavailable to alice"));
    assert.ok(w.log.includes('bob is shown unsubscribe from alice'));
  });

  it('alice removes bob, then bob removes alice: nothing left on either side', () => {
    const w = new Pair().sends('alice', 'subscribe').sends('bob', 'subscribed').sends('bob', 'subscribe').sends('alice', 'subscribed');
    w.clearLog().removes('alice');
    assert.equal(w.sub('alice'), 'no item');
    assert.equal(w.sub('bob'), 'None', 'bob keeps alice on his roster, with no subscription');
    assert.deepEqual(w.log, [
      'alice gets a roster push', "alice's server: send-unavailable to bob",
      "alice's server sends unsubscribe to bob", 'bob gets a roster push', 'bob is shown unsubscribe from alice', "bob's server: send-unavailable to alice",
      "alice's server sends unsubscribed to bob", 'bob gets a roster push', 'bob is shown unsubscribed from alice',
    ]);
    w.clearLog().removes('bob');
    assert.deepEqual([w.sub('alice'), w.sub('bob')], ['no item', 'no item']);
    assert.deepEqual(w.log, ['bob gets a roster push'], 'nothing left to send');
  });

  it("removing a contact with requests pending both ways withdraws both, and clears the contact's side", () => {
    const w = new Pair().sends('alice', 'subscribe').sends('bob', 'subscribe').clearLog().removes('alice');
    assert.equal(w.sub('alice'), 'no item');
    assert.equal(w.sub('bob'), 'None');
  });

  it("'in remove' ends where the two stanzas of a removal end, from every state", () => {
    for (const s of STATES) {
      const both = transition(s, { dir: 'in', type: 'remove' });
      const a = transition(s, { dir: 'in', type: 'unsubscribe' });
      const b = transition(a.state!, { dir: 'in', type: 'unsubscribed' });
      assert.deepEqual(both.state, b.state, stateName(s));
      assert.deepEqual(both.presence, [...a.presence, ...b.presence], stateName(s));
      assert.equal(both.deliverToUser, a.deliverToUser || b.deliverToUser, stateName(s));
    }
  });

  it('alice re-subscribes when her server lost track: bob auto-replies, alice ignores the unasked approval', () => {
    const w = new Pair().sends('alice', 'subscribe').sends('bob', 'subscribed');
    w.items.alice = { state: { ...NONE }, hidden: false }; // alice's server lost the subscription
    w.clearLog().sends('alice', 'subscribe');
    assert.equal(w.sub('alice'), 'To');
    assert.ok(w.log.includes("bob's server sends subscribed to alice"));
    assert.ok(!w.log.some((l) => l.startsWith('bob is shown')));
    const stray = transition(NONE, { dir: 'in', type: 'subscribed' });
    assert.deepEqual([stray.changed, stray.deliverToUser], [false, false], 'an approval nobody asked for is dropped (§3.1.6)');
  });

  it('a stranger\'s approval or cancellation leaves no trace', () => {
    for (const type of ['subscribed', 'unsubscribe', 'unsubscribed'] as const) {
      const fx = transition(NONE, { dir: 'in', type }, { hidden: true });
      assert.deepEqual([fx.state, fx.changed, fx.push, fx.deliverToUser], [null, false, false, false], type);
    }
    const rm = transition(NONE, { dir: 'in', type: 'remove' }, { hidden: true });
    assert.equal(rm.state, null);
  });
});

describe('subscription FSM: bad input', () => {
  it('refuses a state Appendix A cannot reach, naming the state and the event', () => {
    const bad: SubState[] = [
      { subscription: 'from', ask: false, pendingIn: true, approved: false },
      { subscription: 'to', ask: true, pendingIn: false, approved: false },
      { subscription: 'both', ask: false, pendingIn: false, approved: true },
      { subscription: 'none', ask: false, pendingIn: true, approved: true },
    ];
    for (const s of bad) {
      assert.throws(() => transition(s, { dir: 'in', type: 'subscribe' }), (err: Error) =>
        /subscription-fsm: in subscribe in state/.test(err.message) && err.message.includes(JSON.stringify(s)));
    }
  });

  it('refuses an unknown event', () => {
    assert.throws(() => transition(NONE, { dir: 'in', type: 'probe' } as unknown as SubEvent), /unknown event 'in probe'/);
  });

  it('does not alias its input', () => {
    const s = { ...NONE };
    const fx = transition(s, { dir: 'out', type: 'subscribe' });
    assert.notEqual(fx.state, s);
    assert.deepEqual(s, NONE);
  });
});

// ---------------------------------------------------------------------------
// docs/subscriptions.md holds the table as implemented; keep them in step.
describe('subscription FSM: docs/subscriptions.md', () => {
  it('has one row per state × event, each matching transition()', () => {
    const md = readFileSync(new URL('../../../docs/subscriptions.md', import.meta.url), 'utf8');
    const byName = new Map(STATES.map((s) => [stateName(s), s]));
    let event: SubEvent | null = null;
    const seen = new Set<string>();
    for (const line of md.split('\n')) {
      const h = /^### `(in|out) (\w+)`/.exec(line);
      if (h) { event = ev(`${h[1]} ${h[2]}`); continue; }
      if (!line.startsWith('| ') || event === null) continue;
      const cols = line.split('|').slice(1, -1).map((c) => c.trim());
      const s = byName.get(cols[0]);
      if (s === undefined) continue; // header row
      const fx = transition(s, event);
      const where = `${cols[0]} / ${eventName(event)}`;
      const next = fx.state === null ? 'removed' : fx.changed ? stateName(fx.state) : 'no state change';
      assert.deepEqual(cols.slice(1), [
        next, fx.send.join(', ') || '—', fx.deliverToUser ? 'yes' : 'no', fx.presence.join(', ') || '—', fx.push ? 'yes' : 'no',
      ].map(String), where);
      seen.add(where);
    }
    assert.equal(seen.size, STATES.length * EVENTS.length);
  });
});
