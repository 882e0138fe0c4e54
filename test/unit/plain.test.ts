/** RFC 4616 PLAIN messages, and checking their password against SCRAM keys. */
import assert from 'node:assert/strict';
import { parsePlain, type PlainMessage } from '../../src/xmpp/sasl/plain.js';
import { deriveCredential, verifyPlainPassword } from '../../src/xmpp/sasl/scram.js';
import { isSaslFailure, type SaslCondition } from '../../src/xmpp/sasl/types.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

function ok(message: string | Buffer): PlainMessage {
  const r = parsePlain(typeof message === 'string' ? b(message) : message);
  assert.ok(!isSaslFailure(r), JSON.stringify(r));
  return r;
}

function fails(message: string | Buffer, condition: SaslCondition): void {
  const r = parsePlain(typeof message === 'string' ? b(message) : message);
  assert.ok(isSaslFailure(r), `expected ${condition}, got ${JSON.stringify(r)}`);
  assert.equal(r.condition, condition, r.text);
}

describe('PLAIN', () => {
  describe('parsePlain', () => {
    it('parses authcid and password without an authzid', () => {
      assert.deepEqual(ok('\0tim\0tanstaaftanstaaf'), { authzid: null, authcid: 'tim', password: 'tanstaaftanstaaf' });
    });
    it('parses an authzid as a bare JID or a localpart', () => {
      assert.deepEqual(ok('Ursel@example.com\0Kurt\0xipj3plmq'), { authzid: 'Ursel@example.com', authcid: 'Kurt', password: 'xipj3plmq' });
      assert.equal(ok('juliet\0juliet\0pw').authzid, 'juliet');
    });
    it('SASLprep-s the authcid but returns the password as sent', () => {
      const m = ok('\0I\u00adX\0pa\u00a0ss');
      assert.equal(m.authcid, 'IX');
      assert.equal(m.password, 'pa\u00a0ss');
    });
    it('keeps NUL-free passwords with spaces and non-ASCII characters', () => {
      assert.equal(ok('\0juliet\0r0m3o & sp\u00e4ce').password, 'r0m3o & sp\u00e4ce');
    });
    const malformed: Array<[string, string | Buffer]> = [
      ['no NUL', 'timtanstaaf'],
      ['one NUL', 'tim\0tanstaaf'],
      ['three NULs', '\0tim\0tan\0staaf'],
      ['an empty authcid', '\0\0tanstaaf'],
      ['an empty password', '\0tim\0'],
      ['an empty message', ''],
      ['invalid UTF-8', Buffer.from([0x00, 0x74, 0x69, 0x6d, 0x00, 0xc3, 0x28])],
      ['a prohibited character in the password', '\0tim\0tan\u0007staaf'],
      ['a prohibited character in the authcid', '\0t\u0085im\0tanstaaf'],
      ['an authcid that SASLprep empties', '\0\u00ad\0tanstaaf'],
      ['an authcid over 255 characters', `\0${'a'.repeat(256)}\0pw`],
      ['a password over 255 characters', `\0tim\0${'p'.repeat(256)}`],
    ];
    for (const [what, message] of malformed) {
      it(`refuses ${what} with malformed-request`, () => fails(message, 'malformed-request'));
    }
    it('accepts 255 characters, counted as code points', () => {
      assert.equal(ok(`\0${'\u00e9'.repeat(255)}\0${'\u{1F600}'.repeat(255)}`).authcid.length, 255);
    });
    it('refuses an obviously malformed authzid with invalid-authzid', () => {
      fails('a b@example.com\0tim\0pw', 'invalid-authzid');
      fails('tim@example.com/res\0tim\0pw', 'invalid-authzid');
      fails('@example.com\0tim\0pw', 'invalid-authzid');
    });
  });

  describe('verifyPlainPassword', () => {
    const cred = deriveCredential('tanstaaftanstaaf', 'SHA-256');
    it('is true for the password the credential was derived from', () => {
      const m = ok('\0tim\0tanstaaftanstaaf');
      assert.equal(verifyPlainPassword(m.password, cred, 'SHA-256'), true);
    });
    it('is false for any other password', () => {
      assert.equal(verifyPlainPassword('tanstaaftanstaaF', cred, 'SHA-256'), false);
      assert.equal(verifyPlainPassword('', cred, 'SHA-256'), false);
    });
  });
});
