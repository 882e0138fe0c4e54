/**
 * SCRAM against the RFC 5802 §5 and RFC 7677 §3 example exchanges byte for
 * byte, the failure cases, channel binding (RFC 5802 §6, RFC 9266), and the
 * RFC 4013 §3 SASLprep examples.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ScramCredential, ScramHash } from '../../src/store/types.js';
import { saslprep, SaslprepError } from '../../src/xmpp/sasl/saslprep.js';
import {
  type ChannelBindingInfo, type ChannelBindingType, deriveCredential, deriveCredentials, NO_CHANNEL_BINDING, SCRAM_ITERATIONS,
  ScramClient, type ScramClientFirst, scramMechanism, scramParseClientFirst, scramServerFinal, scramServerFirst, verifyPlainPassword,
} from '../../src/xmpp/sasl/scram.js';
import { isSaslFailure, type SaslCondition, type SaslFailure } from '../../src/xmpp/sasl/types.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const SHA1 = { hash: 'SHA-1', plus: false } as const;
const SHA256 = { hash: 'SHA-256', plus: false } as const;
const SHA256_PLUS = { hash: 'SHA-256', plus: true } as const;

function assertFailure(x: unknown, condition: SaslCondition): asserts x is SaslFailure {
  assert.ok(isSaslFailure(x), `expected a ${condition} failure, got ${JSON.stringify(x)}`);
  assert.equal(x.condition, condition, x.text);
}

function parsed(x: ScramClientFirst | SaslFailure): ScramClientFirst {
  assert.ok(!isSaslFailure(x), `unexpected failure: ${JSON.stringify(x)}`);
  return x;
}

function tlsWith(types: ChannelBindingType[], data: Buffer): ChannelBindingInfo {
  return { types, data: (t) => (types.includes(t) ? data : null) };
}

/** One whole exchange through the server functions; returns the step-3 outcome. */
function exchange(opts: {
  hash: ScramHash; plus?: boolean; client: ScramClient; cred: ScramCredential | null; cb?: ChannelBindingInfo; advertisePlus?: boolean;
}): ReturnType<typeof scramServerFinal> {
  const cb = opts.cb ?? NO_CHANNEL_BINDING;
  const first = parsed(scramParseClientFirst({ hash: opts.hash, plus: opts.plus ?? false }, opts.client.first(), cb, opts.advertisePlus ?? false));
  const { state, message } = scramServerFirst(opts.hash, first, opts.cred, cb);
  return scramServerFinal(state, opts.client.final(message));
}

// Independently computed (Python hashlib) from the RFC examples' passwords and salts.
const RFC5802 = {
  salt: 'QSXCR+Q6sek8bf92', storedKey: '6dlGYMOdZcOPutkcNY8U2g7vK9Y=', serverKey: 'D+CSWLOshSulAsxiupA+qs2/fTE=',
};
const RFC7677 = {
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==', storedKey: 'WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=', serverKey: 'wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=',
};

describe('SCRAM', () => {
  // Shared credentials: PBKDF2 at 4096 iterations is the slow part of these tests.
  let alice: { 'SHA-1': ScramCredential; 'SHA-256': ScramCredential };
  before(() => {
    alice = deriveCredentials('correct horse');
  });

  describe('RFC 5802 §5 example (SCRAM-SHA-1)', () => {
    it('derives the keys from the example salt', () => {
      const cred = deriveCredential('pencil', 'SHA-1', { salt: Buffer.from(RFC5802.salt, 'base64') });
      assert.deepEqual(cred, { salt: RFC5802.salt, iterations: 4096, storedKey: RFC5802.storedKey, serverKey: RFC5802.serverKey });
    });

    it('reproduces the exchange byte for byte', () => {
      const cred = deriveCredential('pencil', 'SHA-1', { salt: Buffer.from(RFC5802.salt, 'base64') });
      const client = new ScramClient({ hash: 'SHA-1', username: 'user', password: 'pencil', nonce: 'fyko+d2lbbFgONRv9qkxdawL' });
      const clientFirst = client.first();
      assert.equal(clientFirst.toString(), 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');

      const first = parsed(scramParseClientFirst(SHA1, clientFirst, NO_CHANNEL_BINDING, false));
      assert.deepEqual(first, {
        gs2Header: 'n,,', cbFlag: 'n', cbType: null, authzid: null, username: 'user',
        clientNonce: 'fyko+d2lbbFgONRv9qkxdawL', bare: 'n=user,r=fyko+d2lbbFgONRv9qkxdawL',
      });
      const { state, message: serverFirst } = scramServerFirst('SHA-1', first, cred, NO_CHANNEL_BINDING, { serverNonce: '3rfcNHYJY1ZVvWVs7j' });
      assert.equal(serverFirst.toString(), 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');

      const clientFinal = client.final(serverFirst);
      assert.equal(clientFinal.toString(), 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');

      const result = scramServerFinal(state, clientFinal);
      assert.ok('ok' in result, JSON.stringify(result));
      assert.equal(result.message.toString(), 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
      assert.equal(result.username, 'user');
      assert.equal(client.verifyServerFinal(result.message), true);
    });
  });

  describe('RFC 7677 §3 example (SCRAM-SHA-256)', () => {
    it('derives the keys from the example salt', () => {
      const cred = deriveCredential('pencil', 'SHA-256', { salt: Buffer.from(RFC7677.salt, 'base64') });
      assert.deepEqual(cred, { salt: RFC7677.salt, iterations: 4096, storedKey: RFC7677.storedKey, serverKey: RFC7677.serverKey });
    });

    it('reproduces the exchange byte for byte', () => {
      const cred: ScramCredential = { salt: RFC7677.salt, iterations: 4096, storedKey: RFC7677.storedKey, serverKey: RFC7677.serverKey };
      const client = new ScramClient({ hash: 'SHA-256', username: 'user', password: 'pencil', nonce: 'rOprNGfwEbeRWgbNEkqO' });
      const clientFirst = client.first();
      assert.equal(clientFirst.toString(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');

      const first = parsed(scramParseClientFirst(SHA256, clientFirst, NO_CHANNEL_BINDING, false));
      const { state, message: serverFirst } = scramServerFirst('SHA-256', first, cred, NO_CHANNEL_BINDING, {
        serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
      });
      assert.equal(serverFirst.toString(), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');

      const clientFinal = client.final(serverFirst);
      assert.equal(
        clientFinal.toString(),
        'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      );
      const result = scramServerFinal(state, clientFinal);
      assert.ok('ok' in result, JSON.stringify(result));
      assert.equal(result.message.toString(), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
      assert.equal(client.verifyServerFinal(result.message), true);
    });
  });

  describe('credentials', () => {
    it('deriveCredentials gives both hashes, with distinct random salts and the default iterations', () => {
      assert.equal(alice['SHA-1'].iterations, SCRAM_ITERATIONS);
      assert.equal(Buffer.from(alice['SHA-256'].salt, 'base64').length, 16);
      assert.notEqual(alice['SHA-1'].salt, alice['SHA-256'].salt);
      assert.equal(Buffer.from(alice['SHA-1'].storedKey, 'base64').length, 20);
      assert.equal(Buffer.from(alice['SHA-256'].storedKey, 'base64').length, 32);
    });
    it('verifyPlainPassword accepts the password and nothing else', () => {
      for (const hash of ['SHA-1', 'SHA-256'] as const) {
        assert.equal(verifyPlainPassword('correct horse', alice[hash], hash), true);
        assert.equal(verifyPlainPassword('correct horse ', alice[hash], hash), false);
        assert.equal(verifyPlainPassword('Correct horse', alice[hash], hash), false);
        assert.equal(verifyPlainPassword('correct\u0007horse', alice[hash], hash), false);
      }
      assert.equal(verifyPlainPassword('correct horse', alice['SHA-1'], 'SHA-256'), false);
    });
    it('SASLprep makes equivalent passwords equal', () => {
      // U+00A0 maps to a space and U+00AD to nothing (RFC 4013 §2.1).
      assert.equal(verifyPlainPassword('correct\u00a0hor\u00adse', alice['SHA-256'], 'SHA-256'), true);
    });
    it('refuses a password SASLprep prohibits', () => {
      assert.throws(() => deriveCredential('bad\u0000pw', 'SHA-1'), SaslprepError);
      assert.throws(() => deriveCredentials('\u0627\u0031'), SaslprepError);
    });
    it('honours the iteration count', () => {
      const cred = deriveCredential('pw', 'SHA-256', { iterations: 5000 });
      assert.equal(cred.iterations, 5000);
      assert.equal(verifyPlainPassword('pw', cred, 'SHA-256'), true);
      assert.throws(() => deriveCredential('pw', 'SHA-256', { iterations: 0 }), RangeError);
    });
  });

  describe('mechanism names', () => {
    it('maps the four SCRAM names', () => {
      assert.deepEqual(scramMechanism('SCRAM-SHA-1'), { hash: 'SHA-1', plus: false });
      assert.deepEqual(scramMechanism('SCRAM-SHA-256-PLUS'), { hash: 'SHA-256', plus: true });
      assert.equal(scramMechanism('PLAIN'), null);
    });
  });

  describe('authentication outcomes', () => {
    it('succeeds with the right password for both hashes', () => {
      for (const hash of ['SHA-1', 'SHA-256'] as const) {
        const client = new ScramClient({ hash, username: 'alice', password: 'correct horse' });
        const result = exchange({ hash, client, cred: alice[hash] });
        assert.ok('ok' in result, JSON.stringify(result));
        assert.equal(result.username, 'alice');
        assert.equal(client.verifyServerFinal(result.message), true);
      }
    });

    it('fails with not-authorized on a wrong password', () => {
      const client = new ScramClient({ hash: 'SHA-256', username: 'alice', password: 'wrong horse' });
      assertFailure(exchange({ hash: 'SHA-256', client, cred: alice['SHA-256'] }), 'not-authorized');
    });

    it('fails with not-authorized when the credential is for the other hash', () => {
      const client = new ScramClient({ hash: 'SHA-256', username: 'alice', password: 'correct horse' });
      assertFailure(exchange({ hash: 'SHA-256', client, cred: alice['SHA-1'] }), 'not-authorized');
    });

    it('lets an unknown user through to the last step, with a stable, real-looking salt', () => {
      const secret = randomBytes(32);
      const serverFirstFor = (username: string, hash: ScramHash = 'SHA-256'): string => {
        const client = new ScramClient({ hash, username, password: 'x' });
        const first = parsed(scramParseClientFirst({ hash, plus: false }, client.first(), NO_CHANNEL_BINDING, false));
        return scramServerFirst(hash, first, null, NO_CHANNEL_BINDING, { fakeSecret: secret }).message.toString();
      };
      const salt = (m: string): string => /,s=([^,]+),/.exec(m)![1]!;
      const a = serverFirstFor('nobody');
      assert.match(a, /^r=[\x21-\x2b\x2d-\x7e]+,s=[A-Za-z0-9+/]{22}==,i=4096$/);
      assert.equal(salt(a).length, alice['SHA-256'].salt.length);
      assert.equal(salt(serverFirstFor('nobody')), salt(a));
      assert.notEqual(salt(serverFirstFor('somebody')), salt(a));
      assert.notEqual(salt(serverFirstFor('nobody', 'SHA-1')), salt(a));

      const client = new ScramClient({ hash: 'SHA-256', username: 'nobody', password: 'x' });
      const first = parsed(scramParseClientFirst(SHA256, client.first(), NO_CHANNEL_BINDING, false));
      const { state, message } = scramServerFirst('SHA-256', first, null, NO_CHANNEL_BINDING, { fakeSecret: secret });
      assert.equal(state.fake, true);
      const result = scramServerFinal(state, client.final(message));
      assertFailure(result, 'not-authorized');
      assert.equal(result.text, 'wrong username or password');
    });

    it('fails when the client-final nonce is tampered with', () => {
      const client = new ScramClient({ hash: 'SHA-1', username: 'alice', password: 'correct horse' });
      const first = parsed(scramParseClientFirst(SHA1, client.first(), NO_CHANNEL_BINDING, false));
      const { state, message } = scramServerFirst('SHA-1', first, alice['SHA-1'], NO_CHANNEL_BINDING);
      const final = client.final(message).toString().replace(/,r=([^,]+)/, (_m, r: string) => `,r=${r}X`);
      assertFailure(scramServerFinal(state, b(final)), 'not-authorized');
    });

    it('fails when the proof is tampered with', () => {
      const client = new ScramClient({ hash: 'SHA-1', username: 'alice', password: 'correct horse' });
      const first = parsed(scramParseClientFirst(SHA1, client.first(), NO_CHANNEL_BINDING, false));
      const { state, message } = scramServerFirst('SHA-1', first, alice['SHA-1'], NO_CHANNEL_BINDING);
      const final = client.final(message).toString();
      const proof = Buffer.from(final.slice(final.indexOf(',p=') + 3), 'base64');
      proof[0] = proof[0]! ^ 1;
      assertFailure(scramServerFinal(state, b(`${final.slice(0, final.indexOf(',p='))},p=${proof.toString('base64')}`)), 'not-authorized');
    });

    it('escapes "," and "=" in usernames (RFC 5802 §5.1)', () => {
      const cred = deriveCredential('pw', 'SHA-1', { iterations: 4096 });
      const client = new ScramClient({ hash: 'SHA-1', username: 'a,b=c', password: 'pw' });
      assert.match(client.first().toString(), /^n,,n=a=2Cb=3Dc,r=/);
      const result = exchange({ hash: 'SHA-1', client, cred });
      assert.ok('ok' in result, JSON.stringify(result));
      assert.equal(result.username, 'a,b=c');
    });

    it('SASLprep applies to the username', () => {
      const first = parsed(scramParseClientFirst(SHA1, b('n,,n=I\u00adX,r=abc'), NO_CHANNEL_BINDING, false));
      assert.equal(first.username, 'IX');
    });
  });

  describe('malformed messages', () => {
    const bad: Array<[string, string | Buffer]> = [
      ['no GS2 header', 'n=user,r=abc'],
      ['an unknown GS2 flag', 'x,,n=user,r=abc'],
      ['an authzid without a=', 'n,user,n=user,r=abc'],
      ['a bad escape in the authzid', 'n,a=us=er,n=user,r=abc'],
      ['a missing username', 'n,,r=abc'],
      ['a missing nonce', 'n,,n=user'],
      ['attributes out of order', 'n,,r=abc,n=user'],
      ['an empty username', 'n,,n=,r=abc'],
      ['"=" not in an escape', 'n,,n=us=er,r=abc'],
      ['a lower-case escape', 'n,,n=a=2c,r=abc'],
      ['an unknown escape', 'n,,n=a=41,r=abc'],
      ['a mandatory extension', 'n,,m=ext,n=user,r=abc'],
      ['a nonce with a non-printable character', 'n,,n=user,r=ab\u00e9'],
      ['a malformed extension', 'n,,n=user,r=abc,junk'],
      ['a prohibited character in the username', 'n,,n=us\u0007er,r=abc'],
      ['a NUL', 'n,,n=us\u0000er,r=abc'],
      ['invalid UTF-8', Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61])],
    ];
    for (const [what, message] of bad) {
      it(`client-first with ${what} → malformed-request`, () => {
        assertFailure(scramParseClientFirst(SHA1, typeof message === 'string' ? b(message) : message, NO_CHANNEL_BINDING, false), 'malformed-request');
      });
    }

    describe('client-final', () => {
      let state: ReturnType<typeof scramServerFirst>['state'];
      let good: string;
      before(() => {
        const client = new ScramClient({ hash: 'SHA-1', username: 'alice', password: 'correct horse', nonce: 'cnonce' });
        const first = parsed(scramParseClientFirst(SHA1, client.first(), NO_CHANNEL_BINDING, false));
        const sf = scramServerFirst('SHA-1', first, alice['SHA-1'], NO_CHANNEL_BINDING, { serverNonce: 'snonce' });
        state = sf.state;
        good = client.final(sf.message).toString();
      });
      const proof = (): string => good.slice(good.indexOf(',p=') + 1);

      it('accepts the unmodified message, and an extension before the proof', () => {
        assert.ok('ok' in scramServerFinal(state, b(good)));
        // The extension is part of AuthMessage, so the proof no longer matches: syntax passes, proof fails.
        assertFailure(scramServerFinal(state, b(`c=biws,r=cnoncesnonce,x=1,${proof()}`)), 'not-authorized');
      });
      const bad2: Array<[string, () => string]> = [
        ['a missing proof', () => 'c=biws,r=cnoncesnonce'],
        ['a missing channel binding', () => `r=cnoncesnonce,${proof()}`],
        ['a missing nonce', () => `c=biws,${proof()}`],
        ['bad base64 in c=', () => `c=bi*s,r=cnoncesnonce,${proof()}`],
        ['non-canonical base64 in c=', () => `c=bh==,r=cnoncesnonce,${proof()}`],
        ['bad base64 in p=', () => 'c=biws,r=cnoncesnonce,p=!!!!'],
        ['a proof of the wrong length', () => 'c=biws,r=cnoncesnonce,p=AAAA'],
        ['a malformed extension', () => `c=biws,r=cnoncesnonce,junk,${proof()}`],
      ];
      for (const [what, make] of bad2) {
        it(`with ${what} → malformed-request`, () => {
          assertFailure(scramServerFinal(state, b(make())), 'malformed-request');
        });
      }
      it('with c= not matching the GS2 header → not-authorized', () => {
        assertFailure(scramServerFinal(state, b(`c=eSws,r=cnoncesnonce,${proof()}`)), 'not-authorized');
      });
    });
  });

  describe('authzid', () => {
    it('accepts the username itself or its bare JID', () => {
      assert.equal(parsed(scramParseClientFirst(SHA1, b('n,a=user,n=user,r=abc'), NO_CHANNEL_BINDING, false)).authzid, 'user');
      assert.equal(parsed(scramParseClientFirst(SHA1, b('n,a=User@example.com,n=user,r=abc'), NO_CHANNEL_BINDING, false)).authzid, 'User@example.com');
    });
    it('refuses another user with invalid-authzid', () => {
      assertFailure(scramParseClientFirst(SHA1, b('n,a=admin,n=user,r=abc'), NO_CHANNEL_BINDING, false), 'invalid-authzid');
      assertFailure(scramParseClientFirst(SHA1, b('n,a=admin@example.com,n=user,r=abc'), NO_CHANNEL_BINDING, false), 'invalid-authzid');
      assertFailure(scramParseClientFirst(SHA1, b('n,a=user@example.com/res,n=user,r=abc'), NO_CHANNEL_BINDING, false), 'invalid-authzid');
    });
  });

  describe('channel binding', () => {
    const exporter = randomBytes(32);
    const tls = tlsWith(['tls-exporter'], exporter);

    it('tls-exporter round trip succeeds with matching data', () => {
      const client = new ScramClient({ hash: 'SHA-256', username: 'alice', password: 'correct horse', cbType: 'tls-exporter', cbData: exporter });
      assert.match(client.first().toString(), /^p=tls-exporter,,n=alice,r=/);
      const result = exchange({ hash: 'SHA-256', plus: true, client, cred: alice['SHA-256'], cb: tls, advertisePlus: true });
      assert.ok('ok' in result, JSON.stringify(result));
      assert.equal(client.verifyServerFinal(result.message), true);
    });

    it('fails with not-authorized when the client binds to different data', () => {
      const client = new ScramClient({
        hash: 'SHA-256', username: 'alice', password: 'correct horse', cbType: 'tls-exporter', cbData: randomBytes(32),
      });
      assertFailure(exchange({ hash: 'SHA-256', plus: true, client, cred: alice['SHA-256'], cb: tls, advertisePlus: true }), 'not-authorized');
    });

    it('fails when the client asks -PLUS for a type the server does not offer', () => {
      const client = new ScramClient({
        hash: 'SHA-256', username: 'alice', password: 'correct horse', cbType: 'tls-server-end-point', cbData: randomBytes(32),
      });
      assertFailure(scramParseClientFirst(SHA256_PLUS, client.first(), tls, true), 'not-authorized');
      assertFailure(scramParseClientFirst(SHA256_PLUS, b('p=tls-foo,,n=alice,r=abc'), tls, true), 'not-authorized');
      assertFailure(scramParseClientFirst(SHA256_PLUS, b('p=tls-exporter,,n=alice,r=abc'), NO_CHANNEL_BINDING, false), 'not-authorized');
    });

    it('refuses "y" when the server advertised -PLUS (downgrade)', () => {
      const client = new ScramClient({ hash: 'SHA-256', username: 'alice', password: 'correct horse', supportsPlusButNotUsed: true });
      assert.match(client.first().toString(), /^y,,/);
      assertFailure(scramParseClientFirst(SHA256, client.first(), tls, true), 'not-authorized');
    });

    it('accepts "y" when the server did not advertise -PLUS, and checks c= against "y,,"', () => {
      const client = new ScramClient({ hash: 'SHA-256', username: 'alice', password: 'correct horse', supportsPlusButNotUsed: true });
      const result = exchange({ hash: 'SHA-256', client, cred: alice['SHA-256'], cb: NO_CHANNEL_BINDING, advertisePlus: false });
      assert.ok('ok' in result, JSON.stringify(result));
    });

    it('refuses "p" on a mechanism without -PLUS, and "n" on a -PLUS one', () => {
      assertFailure(scramParseClientFirst(SHA256, b('p=tls-exporter,,n=alice,r=abc'), tls, true), 'malformed-request');
      assertFailure(scramParseClientFirst(SHA256_PLUS, b('n,,n=alice,r=abc'), tls, true), 'malformed-request');
    });

    it('fails when a client-final claims no binding after a "p" first message', () => {
      const client = new ScramClient({ hash: 'SHA-256', username: 'alice', password: 'correct horse', cbType: 'tls-exporter', cbData: exporter });
      const first = parsed(scramParseClientFirst(SHA256_PLUS, client.first(), tls, true));
      const { state, message } = scramServerFirst('SHA-256', first, alice['SHA-256'], tls);
      const final = client.final(message).toString().replace(/^c=[^,]+/, 'c=biws');
      assertFailure(scramServerFinal(state, b(final)), 'not-authorized');
    });
  });

  describe('client', () => {
    it('refuses an iteration count below 4096', () => {
      const client = new ScramClient({ hash: 'SHA-1', username: 'u', password: 'p', nonce: 'abc' });
      assert.throws(() => client.final(b('r=abcdef,s=QSXCR+Q6sek8bf92,i=4095')), /below the minimum/);
    });
    it('refuses a server nonce that does not extend its own', () => {
      const client = new ScramClient({ hash: 'SHA-1', username: 'u', password: 'p', nonce: 'abc' });
      assert.throws(() => client.final(b('r=xyzdef,s=QSXCR+Q6sek8bf92,i=4096')), /nonce/);
      assert.throws(() => client.final(b('r=abc,s=QSXCR+Q6sek8bf92,i=4096')), /nonce/);
    });
    it('rejects a wrong server signature or an error', () => {
      const client = new ScramClient({ hash: 'SHA-1', username: 'user', password: 'pencil', nonce: 'fyko+d2lbbFgONRv9qkxdawL' });
      client.final(b('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096'));
      assert.equal(client.verifyServerFinal(b('v=rmF9pqV8S7suAoZWja4dJRkFsKR=')), false);
      assert.equal(client.verifyServerFinal(b('e=invalid-proof')), false);
      assert.equal(client.verifyServerFinal(b('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=')), true);
    });
    it('generates distinct random nonces without commas', () => {
      const nonces = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const m = /,r=(.*)$/.exec(new ScramClient({ hash: 'SHA-1', username: 'u', password: 'p' }).first().toString())!;
        assert.doesNotMatch(m[1]!, /,/);
        nonces.add(m[1]!);
      }
      assert.equal(nonces.size, 20);
    });
  });
});

describe('SASLprep (RFC 4013 §3 examples)', () => {
  const ok: Array<[string, string, string]> = [
    ['I\u00adX', 'IX', 'SOFT HYPHEN mapped to nothing'],
    ['user', 'user', 'no transformation'],
    ['USER', 'USER', 'case preserved, will not match #2'],
    ['\u00aa', 'a', 'output is NFKC, input in ISO 8859-1'],
    ['\u2168', 'IX', 'output is NFKC, will match #1'],
  ];
  for (const [input, output, why] of ok) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(output)} (${why})`, () => {
      assert.equal(saslprep(input), output);
    });
  }
  it('"\\u0007" → error (prohibited character)', () => {
    assert.throws(() => saslprep('\u0007'), (err: unknown) => err instanceof SaslprepError && /C\.2\.1/.test(err.message));
  });
  it('"\\u0627\\u0031" → error (bidi check)', () => {
    assert.throws(() => saslprep('\u0627\u0031'), (err: unknown) => err instanceof SaslprepError && /RFC 3454 §6/.test(err.message));
  });
  it('maps non-ASCII spaces to SPACE', () => {
    assert.equal(saslprep('a\u00a0b\u3000c'), 'a b c');
  });
  it('accepts a wholly right-to-left string and refuses a mixed one', () => {
    assert.equal(saslprep('\u0627\u0628'), '\u0627\u0628');
    assert.throws(() => saslprep('\u0627a\u0628'), SaslprepError);
  });
  it('refuses private use and unassigned code points, the latter only in stored strings', () => {
    assert.throws(() => saslprep('\ue000'), /C\.3/);
    assert.throws(() => saslprep('\u{e0001}'), SaslprepError);
    assert.throws(() => saslprep('a\u0378'), /unassigned/);
    assert.equal(saslprep('a\u0378', { allowUnassigned: true }), 'a\u0378');
  });
});
