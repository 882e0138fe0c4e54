/**
 * SASLprep: RFC 4013 §2 (mapping §2.1, NFKC §2.2, prohibited output §2.3,
 * bidi §2.4, unassigned code points §2.5) over the stringprep tables of
 * RFC 3454 (B.1, C.1.2–C.9, D.1/D.2, §6 bidi rule). RFC 5802 §2.2 and
 * RFC 4616 §2 require it for SCRAM and PLAIN usernames and passwords.
 *
 * The tables are Unicode 3.2's. We use the runtime's NFKC and, where RFC 3454
 * lists a whole category (private use, unassigned, right-to-left letters), the
 * runtime's regex properties: later Unicode versions moved a few code points
 * around, which matters only for strings nobody types as a password.
 */

export class SaslprepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaslprepError';
  }
}

/** RFC 3454 B.1, "commonly mapped to nothing". */
const RE_MAP_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu;
/** RFC 3454 C.1.2, non-ASCII spaces; RFC 4013 §2.1 maps them to SPACE. */
const RE_NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/gu;

/** RFC 4013 §2.3: the prohibited-output tables, each named so failures say which rule fired. */
const PROHIBITED: ReadonlyArray<readonly [RegExp, string]> = [
  [/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/u, 'non-ASCII space (RFC 3454 C.1.2)'],
  [/[\u0000-\u001F\u007F]/u, 'ASCII control character (RFC 3454 C.2.1)'],
  [/[\u0080-\u009F\u06DD\u070F\u180E\u200C\u200D\u2028\u2029\u2060-\u2063\u206A-\u206F\uFEFF\uFFF9-\uFFFC\u{1D173}-\u{1D17A}]/u,
    'non-ASCII control character (RFC 3454 C.2.2)'],
  [/\p{Co}/u, 'private use code point (RFC 3454 C.3)'],
  [/\p{Noncharacter_Code_Point}/u, 'non-character code point (RFC 3454 C.4)'],
  [/\p{Cs}/u, 'surrogate code point (RFC 3454 C.5)'],
  [/[\uFFF9-\uFFFD]/u, 'character inappropriate for plain text (RFC 3454 C.6)'],
  [/[\u2FF0-\u2FFB]/u, 'character inappropriate for canonical representation (RFC 3454 C.7)'],
  [/[\u0340\u0341\u200E\u200F\u202A-\u202E\u206A-\u206F]/u, 'display-changing or deprecated character (RFC 3454 C.8)'],
  [/[\u{E0001}\u{E0020}-\u{E007F}]/u, 'tagging character (RFC 3454 C.9)'],
];

/** RFC 3454 D.1 approximated: letters of the right-to-left scripts, plus RLM and the Hebrew punctuation D.1 lists. */
const RE_RTL_SCRIPT = /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}]/u;
const RE_RTL_EXTRA = /[\u05BE\u05C0\u05C3\u05F3\u05F4\u061B\u061F\u066D\u06D4\u200F]/u;
/** RFC 3454 D.2 approximated: letters and spacing marks of every other script. */
const RE_LETTERISH = /[\p{L}\p{Mc}]/u;

function isRandAL(c: string): boolean {
  return RE_RTL_EXTRA.test(c) || (RE_LETTERISH.test(c) && RE_RTL_SCRIPT.test(c));
}

function isL(c: string): boolean {
  return RE_LETTERISH.test(c) && !RE_RTL_SCRIPT.test(c);
}

export interface SaslprepOptions {
  /**
   * RFC 3454 §7: a "query" (what a client sends to authenticate) may hold
   * unassigned code points; a "stored string" (a password being set) may not,
   * since a later Unicode version could normalise it differently.
   */
  allowUnassigned?: boolean;
}

/** Prepares a username or password; throws SaslprepError naming the rule the string breaks. */
export function saslprep(input: string, opts: SaslprepOptions = {}): string {
  const mapped = input.replace(RE_MAP_TO_NOTHING, '').replace(RE_NON_ASCII_SPACE, ' ');
  const out = mapped.normalize('NFKC');
  for (const c of out) {
    for (const [re, what] of PROHIBITED) {
      if (re.test(c)) throw new SaslprepError(`prohibited ${what} (RFC 4013 §2.3)`);
    }
    if (!opts.allowUnassigned && /\p{Cn}/u.test(c)) {
      throw new SaslprepError('unassigned code point in a stored string (RFC 4013 §2.5)');
    }
  }
  const chars = Array.from(out);
  if (chars.some(isRandAL)) {
    // RFC 3454 §6: a string with right-to-left characters must be wholly so, at both ends.
    if (chars.some(isL)) throw new SaslprepError('mixes right-to-left and left-to-right characters (RFC 3454 §6)');
    if (!isRandAL(chars[0]!) || !isRandAL(chars[chars.length - 1]!)) {
      throw new SaslprepError('a right-to-left string must start and end with a right-to-left character (RFC 3454 §6)');
    }
  }
  return out;
}
