/** aggregate(): every composition rule of docs/presence-engine.md, and the same answer whatever the input order. */
import assert from 'node:assert/strict';
import { aggregate, compareTuples } from '../../src/presence-engine/aggregate.js';
import {
  IN_A_MEETING_TEXT, ON_THE_PHONE_TEXT, SHOWS, SOURCE_KINDS,
  type Composed, type PresenceTuple, type SourceKind,
} from '../../src/presence-engine/model.js';

type Opts = Partial<Omit<PresenceTuple, 'source'>>;

function tuple(kind: SourceKind, id: string, opts: Opts = {}): PresenceTuple {
  return { source: { kind, id }, available: true, show: 'available', status: null, priority: 0, updatedAt: 1000, ...opts };
}
const xmpp = (id: string, o?: Opts): PresenceTuple => tuple('xmpp', id, o);
const sip = (id: string, o?: Opts): PresenceTuple => tuple('sip', id, o);
const phone = (id: string, o?: Opts): PresenceTuple => tuple('phone', id, o);
const calendar = (id: string, o?: Opts): PresenceTuple => tuple('calendar', id, o);

const composed = (state: Composed['state'], o: Partial<Composed> = {}): Composed =>
  ({ state, text: null, onThePhone: false, inMeeting: false, top: null, ...o });

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/** mulberry32: a seeded generator, so a failure is reproducible. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null) {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

/** Every ordering (all of them up to 6 tuples, 200 seeded shuffles beyond) composes to `want`. */
function assertEveryOrder(tuples: PresenceTuple[], want: Composed, label: string): void {
  deepFreeze(tuples);
  const orders = tuples.length <= 6 ? permutations(tuples) : Array.from({ length: 200 }, (_, i) => shuffled(tuples, rng(i + 1)));
  for (const order of orders) {
    assert.deepEqual(aggregate(order), want, `${label}: order ${order.map((t) => `${t.source.kind}/${t.source.id}`).join(',')}`);
  }
}

interface Case { name: string; tuples: PresenceTuple[]; want: Composed }

const CASES: Case[] = [
  // Rule 1: availability comes from xmpp/sip only.
  { name: 'no sources: unavailable', tuples: [], want: composed('unavailable') },
  { name: 'only unavailable xmpp resources: unavailable', tuples: [xmpp('a', { available: false }), xmpp('b', { available: false, status: 'gone home' })], want: composed('unavailable') },
  { name: 'a closed sip publication alone: unavailable', tuples: [sip('e1', { available: false })], want: composed('unavailable') },
  { name: 'an idle phone line alone does not make a user available', tuples: [phone('1001')], want: composed('unavailable') },
  { name: 'a phone line in a call alone: unavailable, on the phone', tuples: [phone('1001', { onThePhone: true })], want: composed('unavailable', { onThePhone: true }) },
  { name: 'a calendar alone: unavailable, in a meeting', tuples: [calendar('cal', { inMeeting: true })], want: composed('unavailable', { inMeeting: true }) },
  { name: 'phone and calendar alone: unavailable, both flags, no text', tuples: [phone('1001', { onThePhone: true }), calendar('cal', { inMeeting: true })], want: composed('unavailable', { onThePhone: true, inMeeting: true }) },
  { name: 'a phone tuple that claims dnd with high priority never wins', tuples: [phone('1001', { show: 'dnd', priority: 127 }), xmpp('laptop', { show: 'away' })], want: composed('away', { top: 'laptop' }) },
  { name: 'a calendar tuple never wins', tuples: [calendar('cal', { show: 'dnd', priority: 127, status: 'Busy' })], want: composed('unavailable') },

  // Rule 3: show mapping and text.
  { name: 'xmpp without show: available', tuples: [xmpp('laptop')], want: composed('available', { top: 'laptop' }) },
  { name: 'chat: available', tuples: [xmpp('laptop', { show: 'chat' })], want: composed('available', { top: 'laptop' }) },
  { name: 'away: away', tuples: [xmpp('laptop', { show: 'away' })], want: composed('away', { top: 'laptop' }) },
  { name: 'xa: away', tuples: [xmpp('laptop', { show: 'xa' })], want: composed('away', { top: 'laptop' }) },
  { name: 'dnd: dnd', tuples: [xmpp('laptop', { show: 'dnd' })], want: composed('dnd', { top: 'laptop' }) },
  { name: 'available with a text: custom', tuples: [xmpp('laptop', { status: 'Working from home' })], want: composed('custom', { text: 'Working from home', top: 'laptop' }) },
  { name: 'chat with a text: custom', tuples: [xmpp('laptop', { show: 'chat', status: 'Ask me' })], want: composed('custom', { text: 'Ask me', top: 'laptop' }) },
  { name: 'away keeps its text', tuples: [xmpp('laptop', { show: 'away', status: 'Lunch' })], want: composed('away', { text: 'Lunch', top: 'laptop' }) },
  { name: 'xa keeps its text', tuples: [xmpp('laptop', { show: 'xa', status: 'On holiday' })], want: composed('away', { text: 'On holiday', top: 'laptop' }) },
  { name: 'dnd keeps its text', tuples: [xmpp('laptop', { show: 'dnd', status: 'Focus time' })], want: composed('dnd', { text: 'Focus time', top: 'laptop' }) },
  { name: 'an empty text is no text', tuples: [xmpp('laptop', { status: '' })], want: composed('available', { top: 'laptop' }) },
  { name: 'a blank text is no text', tuples: [xmpp('laptop', { status: ' \t ' })], want: composed('available', { top: 'laptop' }) },
  { name: 'a text is kept as written', tuples: [xmpp('laptop', { status: ' Back at 3 ' })], want: composed('custom', { text: ' Back at 3 ', top: 'laptop' }) },

  // Rule 2: the winner.
  { name: 'highest priority wins, even when older', tuples: [xmpp('phone', { priority: 1, show: 'away', updatedAt: 5000 }), xmpp('desk', { priority: 5, show: 'dnd', updatedAt: 1 })], want: composed('dnd', { top: 'desk' }) },
  { name: 'negative priority still counts for presence', tuples: [xmpp('bot', { priority: -128, show: 'xa' })], want: composed('away', { top: 'bot' }) },
  { name: 'an unavailable tuple never wins, whatever its priority', tuples: [xmpp('desk', { priority: 127, available: false, show: 'dnd' }), xmpp('mobile', { priority: -5 })], want: composed('available', { top: 'mobile' }) },
  { name: 'equal priority: the most recent wins', tuples: [xmpp('a', { show: 'away', updatedAt: 2000 }), xmpp('b', { show: 'dnd', updatedAt: 1000 })], want: composed('away', { top: 'a' }) },
  { name: 'equal priority and time: the smaller source id wins', tuples: [xmpp('mobile', { show: 'away' }), xmpp('desk', { show: 'dnd' })], want: composed('dnd', { top: 'desk' }) },
  { name: 'ids compare by code unit, not locale (Z < a)', tuples: [xmpp('a', { show: 'away' }), xmpp('Z', { show: 'dnd' })], want: composed('dnd', { top: 'Z' }) },
  { name: 'a sip publication can win; top is then null', tuples: [sip('etag-1', { show: 'dnd', status: 'Presenting', updatedAt: 9000 }), xmpp('laptop', { updatedAt: 1 })], want: composed('dnd', { text: 'Presenting' }) },
  { name: 'xmpp priority beats a sip publication (priority 0)', tuples: [sip('etag-1', { show: 'dnd', updatedAt: 9000 }), xmpp('laptop', { priority: 1 })], want: composed('available', { top: 'laptop' }) },
  { name: 'same id, same everything: xmpp before sip', tuples: [sip('x', { show: 'dnd' }), xmpp('x', { show: 'away' })], want: composed('away', { top: 'x' }) },
  { name: 'the winner alone decides the text: a loser\'s text is not shown', tuples: [xmpp('desk', { priority: 2 }), xmpp('mobile', { priority: 1, status: 'Commuting' })], want: composed('available', { top: 'desk' }) },
  { name: 'a NaN priority counts as 0', tuples: [xmpp('a', { priority: Number.NaN, show: 'away' }), xmpp('b', { priority: 0, show: 'dnd' })], want: composed('away', { top: 'a' }) },

  // Rules 5–7: phone and calendar.
  { name: 'available and on the phone: dnd "On the phone"', tuples: [xmpp('laptop'), phone('1001', { onThePhone: true })], want: composed('dnd', { text: ON_THE_PHONE_TEXT, onThePhone: true, top: 'laptop' }) },
  { name: 'away and on the phone: dnd "On the phone"', tuples: [xmpp('laptop', { show: 'away' }), phone('1001', { onThePhone: true })], want: composed('dnd', { text: ON_THE_PHONE_TEXT, onThePhone: true, top: 'laptop' }) },
  { name: 'xa and on the phone: dnd "On the phone"', tuples: [xmpp('laptop', { show: 'xa' }), phone('1001', { onThePhone: true })], want: composed('dnd', { text: ON_THE_PHONE_TEXT, onThePhone: true, top: 'laptop' }) },
  { name: 'custom and on the phone: dnd with the user\'s text', tuples: [xmpp('laptop', { status: 'Working from home' }), phone('1001', { onThePhone: true })], want: composed('dnd', { text: 'Working from home', onThePhone: true, top: 'laptop' }) },
  { name: 'away with a text and on the phone: dnd with the user\'s text', tuples: [xmpp('laptop', { show: 'away', status: 'Lunch' }), phone('1001', { onThePhone: true })], want: composed('dnd', { text: 'Lunch', onThePhone: true, top: 'laptop' }) },
  { name: 'explicit dnd is never changed by the phone', tuples: [xmpp('laptop', { show: 'dnd' }), phone('1001', { onThePhone: true })], want: composed('dnd', { onThePhone: true, top: 'laptop' }) },
  { name: 'explicit dnd keeps its own text in a meeting', tuples: [xmpp('laptop', { show: 'dnd', status: 'Focus' }), calendar('cal', { inMeeting: true })], want: composed('dnd', { text: 'Focus', inMeeting: true, top: 'laptop' }) },
  { name: 'available and in a meeting: dnd "In a meeting"', tuples: [xmpp('laptop'), calendar('cal', { inMeeting: true })], want: composed('dnd', { text: IN_A_MEETING_TEXT, inMeeting: true, top: 'laptop' }) },
  { name: 'away and in a meeting: dnd "In a meeting"', tuples: [xmpp('laptop', { show: 'away' }), calendar('cal', { inMeeting: true })], want: composed('dnd', { text: IN_A_MEETING_TEXT, inMeeting: true, top: 'laptop' }) },
  { name: 'custom and in a meeting: dnd with the user\'s text', tuples: [xmpp('laptop', { status: 'WFH' }), calendar('cal', { inMeeting: true })], want: composed('dnd', { text: 'WFH', inMeeting: true, top: 'laptop' }) },
  { name: 'on the phone and in a meeting: the phone\'s text wins', tuples: [xmpp('laptop'), calendar('cal', { inMeeting: true }), phone('1001', { onThePhone: true })], want: composed('dnd', { text: ON_THE_PHONE_TEXT, onThePhone: true, inMeeting: true, top: 'laptop' }) },
  { name: 'several lines: on the phone when any line is', tuples: [xmpp('laptop'), phone('1001'), phone('1002', { onThePhone: true }), phone('1003', { onThePhone: false })], want: composed('dnd', { text: ON_THE_PHONE_TEXT, onThePhone: true, top: 'laptop' }) },
  { name: 'several lines, none in a call: not on the phone', tuples: [xmpp('laptop'), phone('1001'), phone('1002', { onThePhone: false })], want: composed('available', { top: 'laptop' }) },
  { name: 'a sip publication saying on-the-phone counts', tuples: [xmpp('laptop', { priority: 1 }), sip('etag-1', { onThePhone: true })], want: composed('dnd', { text: ON_THE_PHONE_TEXT, onThePhone: true, top: 'laptop' }) },
  { name: 'a sip publication on the phone decorates itself when it wins', tuples: [sip('etag-1', { onThePhone: true })], want: composed('dnd', { text: ON_THE_PHONE_TEXT, onThePhone: true }) },
  { name: 'a closed line still reports its call (flags ignore availability)', tuples: [xmpp('laptop'), phone('1001', { available: false, onThePhone: true })], want: composed('dnd', { text: ON_THE_PHONE_TEXT, onThePhone: true, top: 'laptop' }) },
  { name: 'a closed calendar still reports its meeting', tuples: [xmpp('laptop'), calendar('cal', { available: false, inMeeting: true })], want: composed('dnd', { text: IN_A_MEETING_TEXT, inMeeting: true, top: 'laptop' }) },
  { name: 'onThePhone on an xmpp tuple is ignored', tuples: [xmpp('laptop', { onThePhone: true })], want: composed('available', { top: 'laptop' }) },
  { name: 'onThePhone on a calendar tuple is ignored', tuples: [xmpp('laptop'), calendar('cal', { onThePhone: true })], want: composed('available', { top: 'laptop' }) },
  { name: 'inMeeting on a phone, sip or xmpp tuple is ignored', tuples: [xmpp('laptop', { inMeeting: true, priority: 1 }), phone('1001', { inMeeting: true }), sip('e', { inMeeting: true })], want: composed('available', { top: 'laptop' }) },
  { name: 'unavailable user keeps flags but no text', tuples: [xmpp('laptop', { available: false, status: 'Gone' }), phone('1001', { onThePhone: true }), calendar('cal', { inMeeting: true })], want: composed('unavailable', { onThePhone: true, inMeeting: true }) },
];

describe('presence aggregate()', function () {
  describe('rules (each case in every input order)', function () {
    for (const c of CASES) {
      it(c.name, function () { assertEveryOrder(c.tuples, c.want, c.name); });
    }
  });

  it('does not change its input', function () {
    const input = deepFreeze([xmpp('a', { status: 'x' }), phone('1', { onThePhone: true })]);
    const copy = structuredClone(input);
    aggregate(input);
    assert.deepEqual(input, copy);
  });

  it('returns a fresh object each time', function () {
    const a = aggregate([]);
    const b = aggregate([]);
    assert.notEqual(a, b);
    a.onThePhone = true;
    assert.equal(aggregate([]).onThePhone, false);
  });

  it('gives one answer for any order of random inputs, duplicates and ties included', function () {
    const rand = rng(20240611);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    for (let round = 0; round < 300; round++) {
      const n = Math.floor(rand() * 8);
      const tuples = Array.from({ length: n }, () => tuple(pick(SOURCE_KINDS), pick(['a', 'b', 'c']), {
        available: rand() < 0.7,
        show: pick(SHOWS),
        status: pick([null, '', 'Lunch', 'WFH']),
        priority: pick([-1, 0, 0, 1]),
        updatedAt: pick([1, 2]),
        onThePhone: pick([undefined, false, true]),
        inMeeting: pick([undefined, false, true]),
      }));
      const want = aggregate(tuples);
      for (let k = 0; k < 10; k++) assert.deepEqual(aggregate(shuffled(tuples, rand)), want, JSON.stringify(tuples));
    }
  });

  it('compareTuples is a total order: antisymmetric and zero only for tuples equal in what it ranks', function () {
    const a = xmpp('a', { priority: 1 });
    const b = xmpp('b', { priority: 1 });
    assert.ok(compareTuples(a, b) < 0 && compareTuples(b, a) > 0);
    assert.equal(compareTuples(a, xmpp('a', { priority: 1 })), 0);
    assert.ok(compareTuples(xmpp('a', { show: 'away' }), xmpp('a', { show: 'dnd' })) < 0);
    assert.ok(compareTuples(xmpp('a', { status: null }), xmpp('a', { status: 'x' })) < 0);
  });
});
