/**
 * One registry of imp's internal error codes. Protocol edges translate these
 * into their own vocabulary (XMPP stream/stanza errors, SASL failures, HTTP
 * statuses); inside the server only the stable code travels.
 * docs/errors.md lists the same table; test/unit/errors.test.ts keeps them in step.
 */
export const ERROR_CODES = {
  IMP_CONFIG_INVALID: { http: 500, text: 'a configuration option or key is invalid' },
  IMP_STORE_UNAVAILABLE: { http: 503, text: 'the store (Redis or the embedded database) cannot be reached' },
  IMP_USER_EXISTS: { http: 409, text: 'a user with this userId already exists' },
  IMP_USER_NOT_FOUND: { http: 404, text: 'no user with this userId' },
  IMP_VALIDATION: { http: 400, text: 'a field of the request breaks a rule' },
  IMP_UNAUTHORIZED: { http: 401, text: 'the bearer token is missing or wrong' },
  IMP_OFFLINE_QUEUE_FULL: { http: 507, text: "the user's offline message store is full" },
  IMP_ROUTE_NOT_FOUND: { http: 404, text: 'no such API route' },
  IMP_BODY_TOO_LARGE: { http: 413, text: 'the request body is larger than the API accepts' },
  IMP_UNSUPPORTED_MEDIA_TYPE: { http: 415, text: 'the request body must be application/json' },
  IMP_INTERNAL: { http: 500, text: 'an internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ImpError extends Error {
  readonly code: ErrorCode;
  /** The input field that caused the error, when one did. */
  readonly field: string | undefined;
  constructor(code: ErrorCode, message?: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message ?? ERROR_CODES[code].text, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ImpError';
    this.code = code;
    this.field = opts.field;
  }
}

export function isImpError(err: unknown, code?: ErrorCode): err is ImpError {
  return err instanceof ImpError && (code === undefined || err.code === code);
}

/** The store could not be reached; callers answer with a temporary ("wait") error. */
export function storeUnavailable(cause: unknown): ImpError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ImpError('IMP_STORE_UNAVAILABLE', `store unavailable: ${detail}`, { cause });
}
