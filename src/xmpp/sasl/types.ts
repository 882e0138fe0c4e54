/**
 * SASL outcomes as values: the failure conditions of RFC 6120 §6.5. The SASL
 * step functions return these rather than throwing, because a failed
 * authentication is an expected outcome, not an error.
 */

export type SaslCondition =
  | 'aborted'
  | 'account-disabled'
  | 'credentials-expired'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

export interface SaslFailure {
  condition: SaslCondition;
  /** Human-readable; names the rule that was broken. Never says whether the user exists. */
  text?: string;
}

export function saslFailure(condition: SaslCondition, text?: string): SaslFailure {
  return text === undefined ? { condition } : { condition, text };
}

export function isSaslFailure(x: unknown): x is SaslFailure {
  return typeof x === 'object' && x !== null && typeof (x as { condition?: unknown }).condition === 'string';
}
