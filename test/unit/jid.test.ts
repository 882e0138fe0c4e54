/**
 * RFC 7622 §3 addresses: the §3.5 tables, the RFC 8265 profiles, and the
 * 1023-octet limit at its edge.
 */
import assert from 'node:assert/strict';
import {
  bareJid, fullJid, jid, JidError, jidToString, parseJid, prepDomain, prepLocalpart, prepResourcepart, tryParseJid,
} from '../../src/util/jid.js';

function throwsJid(fn: () => unknown, part: JidError['part'], message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof JidError, `expected JidError, got ${String(err)}`);
    assert.equal(err.part, part, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('jid', () => {
  describe('RFC 7622 §3.5 Table 1 (valid)', () => {
    const valid: Array<[string, string, string, string]> = [
      ['juliet@example.com', 'juliet', 'example.com', ''],
      ['juliet@example.com/foo', 'juliet', 'example.com', 'foo'],
      ['juliet@example.com/foo bar', 'juliet', 'example.com', 'foo bar'],
      ['juliet@example.com/foo@bar', 'juliet', 'example.com', 'foo@bar'],
      ['foo\\20bar@example.com', 'foo\\20bar', 'example.com', ''],
      ['fussball@example.com', 'fussball', 'example.com', ''],
      ['fußball@example.com', 'fußball', 'example.com', ''],
      ['π@example.com', 'π', 'example.com', ''],
      ['Σ@example.com/foo', 'σ', 'example.com', 'foo'],
      ['σ@example.com/foo', 'σ', 'example.com', 'foo'],
      // RFC 8265 maps case with toLowerCase(), which leaves final sigma as it is.
      ['ς@example.com/foo', 'ς', 'example.com', 'foo'],
      ['king@example.com/♚', 'king', 'example.com', '♚'],
      ['example.com', '', 'example.com', ''],
      ['example.com/foobar', '', 'example.com', 'foobar'],
      ['a.example.com/b@example.net', '', 'a.example.com', 'b@example.net'],
      // Listed as invalid in Table 2, but errata 4560 says a leading space is allowed in a resourcepart.
      ['juliet@example.com/ foo', 'juliet', 'example.com', ' foo'],
    ];
    for (const [input, local, domain, resource] of valid) {
      it(`parses ${JSON.stringify(input)}`, () => {
        assert.deepEqual({ ...parseJid(input) }, { local, domain, resource });
      });
    }
  });

  describe('RFC 7622 §3.5 Table 2 (invalid)', () => {
    const invalid: Array<[string, JidError['part'], RegExp]> = [
      ['"juliet"@example.com', 'local', /"\\""/],
      ['foo bar@example.com', 'local', /U\+0020/],
      ['@example.com/', 'local', /empty/],
      // Case mapping turns U+2163 into U+2173 before the class check refuses it.
      ['henryⅣ@example.com', 'local', /U\+2173.*compatibility/],
      ['♚@example.com', 'local', /U\+265A.*symbol/],
      ['juliet@', 'domain', /empty/],
      ['/foobar', 'domain', /empty/],
    ];
    for (const [input, part, message] of invalid) {
      it(`rejects ${JSON.stringify(input)} in the ${part}`, () => {
        throwsJid(() => parseJid(input), part, message);
        assert.equal(tryParseJid(input), null);
      });
    }
  });

  describe('parsing (RFC 7622 §3.1)', () => {
    it('takes the resource from the first "/" and keeps "@" and "/" in it', () => {
      assert.deepEqual({ ...parseJid('user@example.com/a/b@c/d') }, { local: 'user', domain: 'example.com', resource: 'a/b@c/d' });
      assert.deepEqual({ ...parseJid('example.com/res@foo/bar') }, { local: '', domain: 'example.com', resource: 'res@foo/bar' });
    });
    it('refuses empty parts next to their separators', () => {
      throwsJid(() => parseJid('@d'), 'local');
      throwsJid(() => parseJid('a@'), 'domain');
      throwsJid(() => parseJid('d/'), 'resource');
      throwsJid(() => parseJid('a@d/'), 'resource');
      throwsJid(() => parseJid('@/'), 'local');
      throwsJid(() => parseJid(''), 'jid');
    });
    it('refuses a second "@" before the resource', () => {
      throwsJid(() => parseJid('user@@host'), 'domain');
      throwsJid(() => parseJid('a@b@example.com'), 'domain');
    });
    it('tryParseJid returns the JID or null', () => {
      assert.equal(tryParseJid('a@b@c'), null);
      assert.equal(tryParseJid('Alice@Example.COM')?.local, 'alice');
    });
  });

  describe('localpart (UsernameCaseMapped)', () => {
    it('lower-cases', () => {
      assert.equal(prepLocalpart('Juliet'), 'juliet');
      assert.equal(prepLocalpart('ΣΑΣ'), 'σας');
    });
    it('maps fullwidth and halfwidth forms before checking', () => {
      assert.equal(prepLocalpart('ＪＵＬＩＥＴ'), 'juliet');
      assert.equal(prepLocalpart('ｼﾞｭﾘｴｯﾄ'), 'ジュリエット');
    });
    it('normalises to NFC', () => {
      assert.equal(prepLocalpart('e\u0301'), '\u00e9');
    });
    it('refuses the characters RFC 7622 §3.3.1 excludes', () => {
      for (const c of ['"', '&', "'", '/', ':', '<', '>', '@']) throwsJid(() => prepLocalpart(`a${c}b`), 'local', /RFC 7622 §3\.3\.1/);
    });
    it('refuses controls, spaces, symbols and compatibility characters', () => {
      throwsJid(() => prepLocalpart('a\u0001'), 'local', /control/);
      throwsJid(() => prepLocalpart('a\u00a0b'), 'local');
      throwsJid(() => prepLocalpart('a\u2003b'), 'local');
      throwsJid(() => prepLocalpart('a€'), 'local', /symbol/);
      throwsJid(() => prepLocalpart('\u{1F600}'), 'local', /symbol/);
      throwsJid(() => prepLocalpart('ﬀ'), 'local', /compatibility/);
      throwsJid(() => prepLocalpart('a\u00adb'), 'local', /default-ignorable/);
      throwsJid(() => prepLocalpart('\ue000'), 'local');
      throwsJid(() => prepLocalpart('a\ud800'), 'local');
      throwsJid(() => prepLocalpart('\u{10ffff}'), 'local');
    });
    it('keeps ASCII punctuation IdentifierClass allows', () => {
      assert.equal(prepLocalpart('a.b_c-d+e!#$%*=?^`{|}~\\'), 'a.b_c-d+e!#$%*=?^`{|}~\\');
    });
    it('applies the contextual rules', () => {
      assert.equal(prepLocalpart('l·l'), 'l·l');
      throwsJid(() => prepLocalpart('a·b'), 'local', /contextual/);
      assert.equal(prepLocalpart('क्\u200dष'), 'क्\u200dष');
      throwsJid(() => prepLocalpart('a\u200db'), 'local', /contextual/);
    });
    it('applies the Bidi Rule to right-to-left names', () => {
      assert.equal(prepLocalpart('שלום'), 'שלום');
      assert.equal(prepLocalpart('سلام1'), 'سلام1');
      throwsJid(() => prepLocalpart('abcשלום'), 'local', /RFC 5893/);
      throwsJid(() => prepLocalpart('1שלום'), 'local', /RFC 5893/);
    });
    it('is at most 1023 octets once prepared, counting UTF-8 bytes', () => {
      assert.equal(prepLocalpart('a'.repeat(1023)).length, 1023);
      throwsJid(() => prepLocalpart('a'.repeat(1024)), 'local', /1024 octets/);
      assert.equal(prepLocalpart('é'.repeat(511) + 'a'), 'é'.repeat(511) + 'a');
      throwsJid(() => prepLocalpart('é'.repeat(512)), 'local', /1024 octets/);
      // Fullwidth letters are 3 octets each but map to 1-octet ASCII first.
      assert.equal(prepLocalpart('Ａ'.repeat(1023)), 'a'.repeat(1023));
      throwsJid(() => prepLocalpart(''), 'local', /empty/);
    });
  });

  describe('resourcepart (OpaqueString)', () => {
    it('keeps case, spaces, symbols and "@" and "/"', () => {
      assert.equal(prepResourcepart('Home Laptop/@x ♚'), 'Home Laptop/@x ♚');
      assert.equal(prepResourcepart('ＦＵＬＬ'), 'ＦＵＬＬ');
    });
    it('maps non-ASCII spaces to U+0020 and normalises to NFC', () => {
      assert.equal(prepResourcepart('a\u00a0b\u3000c'), 'a b c');
      assert.equal(prepResourcepart('e\u0301'), '\u00e9');
    });
    it('refuses controls and other disallowed code points', () => {
      throwsJid(() => prepResourcepart('a\nb'), 'resource', /control/);
      throwsJid(() => prepResourcepart('a\u0000'), 'resource', /control/);
      throwsJid(() => prepResourcepart('a\u2028b'), 'resource');
      throwsJid(() => prepResourcepart('\ue000'), 'resource');
      throwsJid(() => prepResourcepart(''), 'resource', /empty/);
    });
    it('is at most 1023 octets, counting UTF-8 bytes', () => {
      assert.equal(prepResourcepart('x'.repeat(1023)).length, 1023);
      throwsJid(() => prepResourcepart('x'.repeat(1024)), 'resource', /1024 octets/);
      assert.equal(prepResourcepart('♚'.repeat(341)), '♚'.repeat(341));
      throwsJid(() => prepResourcepart('♚'.repeat(341) + 'x'), 'resource', /1024 octets/);
    });
  });

  describe('domainpart', () => {
    it('lower-cases and strips one trailing dot', () => {
      assert.equal(prepDomain('Example.COM.'), 'example.com');
      assert.equal(parseJid('juliet@example.com./x').domain, 'example.com');
      throwsJid(() => prepDomain('example.com..'), 'domain');
      throwsJid(() => prepDomain('.'), 'domain', /empty/);
    });
    it('keeps internationalised names in Unicode form, converting A-labels', () => {
      assert.equal(prepDomain('MÜNCHEN.example'), 'münchen.example');
      assert.equal(prepDomain('xn--mnchen-3ya.example'), 'münchen.example');
      assert.equal(prepDomain('例え。テスト'), '例え.テスト');
    });
    it('accepts IPv4 and bracketed IPv6 literals', () => {
      assert.equal(prepDomain('192.0.2.1'), '192.0.2.1');
      assert.equal(prepDomain('[2001:DB8::1]'), '[2001:db8::1]');
      throwsJid(() => prepDomain('[not-v6]'), 'domain', /IPv6/);
      throwsJid(() => prepDomain('1.2.3'), 'domain', /IPv4/);
    });
    it('refuses bad labels', () => {
      throwsJid(() => prepDomain('a..b'), 'domain');
      throwsJid(() => prepDomain('-a.example'), 'domain', /hyphens/);
      throwsJid(() => prepDomain('a_b.example'), 'domain');
      throwsJid(() => prepDomain('exa mple.com'), 'domain');
      throwsJid(() => prepDomain(`${'a'.repeat(64)}.example`), 'domain', /63/);
    });
    it('is at most 1023 octets', () => {
      const label = 'a'.repeat(63);
      const d1023 = Array(16).fill(label).join('.');
      assert.equal(d1023.length, 1023);
      assert.equal(prepDomain(d1023), d1023);
      throwsJid(() => prepDomain(`a${d1023}`), 'domain');
      const d1024 = `${Array(15).fill(label).join('.')}.${'a'.repeat(16)}.${'a'.repeat(47)}`;
      assert.equal(d1024.length, 1024);
      throwsJid(() => prepDomain(d1024), 'domain', /1024 octets/);
    });
  });

  describe('building and rendering', () => {
    it('jid() prepares each part', () => {
      const j = jid('Alice', 'Example.com', 'Phone');
      assert.deepEqual({ ...j }, { local: 'alice', domain: 'example.com', resource: 'Phone' });
      assert.deepEqual({ ...jid('', 'example.com') }, { local: '', domain: 'example.com', resource: '' });
      throwsJid(() => jid('a b', 'example.com'), 'local');
    });
    it('renders bare and full forms', () => {
      const full = parseJid('Alice@Example.com/Phone');
      assert.equal(bareJid(full), 'alice@example.com');
      assert.equal(fullJid(full), 'alice@example.com/Phone');
      assert.equal(jidToString(full), 'alice@example.com/Phone');
      const domainOnly = parseJid('example.com');
      assert.equal(bareJid(domainOnly), 'example.com');
      assert.equal(jidToString(domainOnly), 'example.com');
      assert.equal(jidToString(parseJid('example.com/r')), 'example.com/r');
    });
    it('round-trips a prepared JID unchanged', () => {
      const j = parseJid('fußball@MÜNCHEN.example/Ⅳ ♚');
      assert.equal(jidToString(j), 'fußball@münchen.example/Ⅳ ♚');
      assert.deepEqual({ ...parseJid(jidToString(j)) }, { ...j });
    });
    it('returns frozen values', () => {
      assert.ok(Object.isFrozen(parseJid('a@b.example')));
    });
  });
});
