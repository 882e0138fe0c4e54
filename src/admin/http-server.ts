/**
 * The admin HTTP server: the only admin socket code. It owns transport
 * concerns (bearer token, body parsing and limits, the JSON error shape,
 * health and metrics endpoints); every provisioning rule lives in
 * users-service.ts, shared with the `imp user` command.
 *
 * Errors leave as `{ error: { code, message, field? } }` with the status of
 * the code in src/errors.ts; never a stack trace or an internal message.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { ERROR_CODES, ImpError, isImpError } from '../errors.js';
import type { PresenceTuple } from '../presence-engine/index.js';
import type { Store, UserRecord } from '../store/types.js';
import type { Logger } from '../util/log.js';
import type { Metrics } from '../util/metrics.js';
import { openApiDocument } from './openapi.js';
import { registerPresenceRoute } from './presence-route.js';
import { createUser, getUser, listUsers, prepUserId, removeUser, updateUser } from './users-service.js';

export interface AdminDeps {
  store: Store;
  metrics: Metrics;
  token: string;
  log: Logger;
  /** main wires store ping + listeners. */
  health(): Promise<{ ok: boolean; checks: Record<string, string> }>;
  /** After a successful PATCH (user) or DELETE (null); main closes a removed/disabled user's sessions. */
  onUserChanged?(userId: string, user: UserRecord | null): void;
  /** A user's live presence tuples (main wires the router); absent means none. */
  presence?(userId: string): Promise<PresenceTuple[]>;
  /** The XMPP domain of bare JIDs in rosters and block lists; default 'localhost'. */
  domain?: string;
}

export const BODY_LIMIT = 1024 * 1024;

/** Routes answered without the token: health and metrics are for local probes, the API description is public anyway. */
const PUBLIC_ROUTES = new Set(['/healthz', '/metrics', '/api/v1/openapi.json']);

interface ErrorBody { code: string; message: string; field?: string }

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Hashing first makes the comparison constant-time whatever the lengths. */
function bearerMatches(header: string | undefined, want: Buffer): boolean {
  const m = /^Bearer +([^\s]+) *$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(sha256(m[1] ?? ''), want);
}

/** An error as status + body; unknown errors become a bare 500 (the detail goes to the log only). */
function toHttp(err: unknown): { status: number; body: ErrorBody } {
  if (isImpError(err)) {
    const body: ErrorBody = { code: err.code, message: err.message };
    if (err.field !== undefined) body.field = err.field;
    return { status: ERROR_CODES[err.code].http, body };
  }
  const fe = err as Partial<FastifyError>;
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { code: 'IMP_UNSUPPORTED_MEDIA_TYPE', message: 'content-type: must be application/json' } };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { code: 'IMP_BODY_TOO_LARGE', message: `body: larger than ${BODY_LIMIT} bytes` } };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: { code: 'IMP_VALIDATION', message: 'body: empty, expected a JSON object', field: 'body' } };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // JSON syntax errors, prototype poisoning, a bad Content-Length, a bad URL: the client's fault.
    const isBody = typeof fe.code === 'string' && fe.code.startsWith('FST_ERR_CTP_') || err instanceof SyntaxError;
    return isBody
      ? { status: 400, body: { code: 'IMP_VALIDATION', message: 'body: not valid JSON', field: 'body' } }
      : { status: 400, body: { code: 'IMP_VALIDATION', message: `request: ${fe.message ?? 'malformed'}` } };
  }
  return { status: ERROR_CODES.IMP_INTERNAL.http, body: { code: 'IMP_INTERNAL', message: ERROR_CODES.IMP_INTERNAL.text } };
}

function sendError(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="imp-admin"');
  // The store comes back on its own; tell clients when to try again.
  if (status === 503) reply.header('Retry-After', '5');
  return reply.code(status).type('application/json; charset=utf-8').send({ error: body });
}

export async function createAdminServer(deps: AdminDeps): Promise<FastifyInstance> {
  const { store, metrics, log } = deps;
  if (deps.token.trim() === '') throw new ImpError('IMP_CONFIG_INVALID', 'admin token: must not be empty', { field: 'token' });
  const wantToken = sha256(deps.token);
  const countRequest = metrics.counter('imp_admin_requests_total', 'Admin HTTP requests answered, by status code');

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    // A localpart may be 1023 bytes, percent-encoded up to three times as long; prepLocalpart judges it, not the router.
    routerOptions: { maxParamLength: 3100 },
  });

  // Only JSON bodies: text/plain would otherwise reach handlers as a string.
  app.removeContentTypeParser('text/plain');
  // PATCH has merge-patch semantics (omitted keeps, null clears), so accept its media type too.
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, json);
  // A DELETE or GET sent with a JSON content type and no body (as curl -H often does) is not an error.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' && (req.method === 'DELETE' || req.method === 'GET')) { done(null, undefined); return; }
    json(req, body as string, done);
  });

  app.addHook('onRequest', async (req) => {
    if (req.is404 || PUBLIC_ROUTES.has(req.routeOptions.url ?? '')) return;
    if (!bearerMatches(req.headers.authorization, wantToken)) {
      const rule = req.headers.authorization ? 'bearer token is wrong' : 'bearer token required';
      throw new ImpError('IMP_UNAUTHORIZED', `authorization: ${rule}`);
    }
  });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('Cache-Control', 'no-store');
    reply.header('X-Content-Type-Options', 'nosniff');
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    countRequest(1, { status: String(reply.statusCode) });
    log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'admin request');
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toHttp(err);
    if (status >= 500 && body.code !== 'IMP_STORE_UNAVAILABLE') {
      log.error({ err, method: req.method, url: req.url }, 'admin request failed');
    }
    return sendError(reply, status, body);
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, ERROR_CODES.IMP_ROUTE_NOT_FOUND.http, {
      code: 'IMP_ROUTE_NOT_FOUND',
      message: `no route ${req.method} ${req.url.split('?')[0]}`,
    }));

  const notify = (userId: string, user: UserRecord | null): void => {
    if (!deps.onUserChanged) return;
    // The change is already made; a failing listener must not turn it into an error answer.
    try { deps.onUserChanged(userId, user); } catch (err) { log.error({ err, userId }, 'onUserChanged failed'); }
  };

  app.get('/healthz', async (_req, reply) => {
    let result: { ok: boolean; checks: Record<string, string> };
    try {
      result = await deps.health();
    } catch (err) {
      result = { ok: false, checks: { health: err instanceof Error ? err.message : String(err) } };
    }
    return reply.code(result.ok ? 200 : 503).send({ ok: result.ok, checks: result.checks });
  });

  app.get('/metrics', async (_req, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render()));

  app.get('/api/v1/openapi.json', async () => openApiDocument());

  app.post('/api/v1/users', async (req, reply) => {
    const user = await createUser(store, req.body);
    return reply.code(201).header('Location', `/api/v1/users/${encodeURIComponent(user.userId)}`).send(user);
  });

  app.get<{ Querystring: Record<string, unknown> }>('/api/v1/users', async (req) =>
    listUsers(store, req.query.offset, req.query.limit));

  app.get<{ Params: { userId: string } }>('/api/v1/users/:userId', async (req) =>
    getUser(store, req.params.userId));

  app.patch<{ Params: { userId: string } }>('/api/v1/users/:userId', async (req) => {
    const user = await updateUser(store, req.params.userId, req.body);
    notify(user.userId, user);
    return user;
  });

  app.delete<{ Params: { userId: string } }>('/api/v1/users/:userId', async (req, reply) => {
    const userId = prepUserId(req.params.userId);
    await removeUser(store, userId);
    notify(userId, null);
    return reply.code(204).send();
  });

  registerPresenceRoute(app, deps);

  return app;
}
