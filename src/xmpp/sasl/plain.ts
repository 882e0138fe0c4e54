/**
 * The PLAIN mechanism's message: RFC 4616 §2 (syntax, SASLprep of authcid and
 * password, the 255-octet capability), with RFC 6120 §6.3.8 for what an XMPP
 * authzid looks like. Checking the password is verifyPlainPassword() in
 * scram.ts, against the same stored SCRAM keys.
 */
import { TextDecoder } from 'node:util';
import { JidError, prepLocalpart, tryParseJid } from '../../util/jid.js';
import { saslprep, SaslprepError } from './saslprep.js';
import { saslFailure, type SaslFailure } from './types.js';

export interface PlainMessage {
  /** null when the client sent none. Parsed enough to be a bare JID or a localpart; the caller decides whether it names the authcid. */
  authzid: string | null;
  /** SASLprep'd. */
  authcid: string;
  /** As sent: verifyPlainPassword() applies SASLprep itself, as every function that takes a password does. */
  password: string;
}

/** RFC 4616 §2 sets 255 as what a server must accept; we take it as the limit too. */
const MAX_CHARS = 255;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function prep(s: string, what: string): string | SaslFailure {
  let out: string;
  try {
    out = saslprep(s, { allowUnassigned: true });
  } catch (err) {
    if (err instanceof SaslprepError) return saslFailure('malformed-request', `${what}: ${err.message}`);
    throw err;
  }
  if (out === '') return saslFailure('malformed-request', `${what} is empty after SASLprep (RFC 4616 §2)`);
  if ([...out].length > MAX_CHARS) return saslFailure('malformed-request', `${what} is longer than ${MAX_CHARS} characters (RFC 4616 §2)`);
  return out;
}

function isLocalpart(s: string): boolean {
  try {
    prepLocalpart(s);
    return true;
  } catch (err) {
    if (err instanceof JidError) return false;
    throw err;
  }
}

/** Parses `[authzid] NUL authcid NUL passwd` (RFC 4616 §2). */
export function parsePlain(message: Buffer): PlainMessage | SaslFailure {
  let text: string;
  try {
    text = utf8.decode(message);
  } catch {
    return saslFailure('malformed-request', 'PLAIN message must be UTF-8 (RFC 4616 §2)');
  }
  const fields = text.split('\0');
  if (fields.length !== 3) return saslFailure('malformed-request', 'PLAIN message must hold exactly two NUL separators (RFC 4616 §2)');
  const [rawAuthzid, rawAuthcid, rawPassword] = fields as [string, string, string];
  if (rawAuthcid === '') return saslFailure('malformed-request', 'authcid must not be empty (RFC 4616 §2)');
  if (rawPassword === '') return saslFailure('malformed-request', 'password must not be empty (RFC 4616 §2)');

  const authcid = prep(rawAuthcid, 'authcid');
  if (typeof authcid !== 'string') return authcid;
  const password = prep(rawPassword, 'password');
  if (typeof password !== 'string') return password;

  let authzid: string | null = null;
  if (rawAuthzid !== '') {
    // RFC 6120 §6.3.8 makes an authzid a bare JID; clients also send the bare localpart.
    const j = tryParseJid(rawAuthzid);
    const bare = j !== null && j.resource === '';
    if (!bare && !isLocalpart(rawAuthzid)) {
      return saslFailure('invalid-authzid', 'authzid must be a bare JID or a localpart (RFC 6120 §6.3.8)');
    }
    authzid = rawAuthzid;
  }
  return { authzid, authcid, password: rawPassword };
}
