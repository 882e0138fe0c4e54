/**
 * GET /api/v1/users/:userId/presence[?perspective=:otherUserId] — the data
 * behind the presence viewer (SPEC §4): a user's composed presence, either as
 * the administrator sees it (every source, nothing withheld) or "from the
 * perspective of" another user, i.e. exactly what that watcher is allowed to
 * see (SPEC §3 "Privacy"). Composition and the privacy decision are the
 * presence engine's pure functions; this file only gathers their inputs:
 * the live tuples (deps.presence), the owner's roster item for the watcher
 * and the owner's block list.
 */
import type { FastifyInstance } from 'fastify';
import { ImpError } from '../errors.js';
import { aggregate, viewFor, type PresenceTuple, type View } from '../presence-engine/index.js';
import type { Store } from '../store/types.js';
import { prepLocalpart } from '../util/jid.js';
import { prepUserId } from './users-service.js';

/** SPEC §4: the "view from the perspective of" field takes up to 128 characters. */
export const MAX_PERSPECTIVE_CHARS = 128;

export interface PresenceRouteDeps {
  store: Pick<Store, 'users' | 'rosters' | 'blocks'>;
  /** The live tuples of a user (main wires the router); absent means no tuples. */
  presence?(userId: string): Promise<PresenceTuple[]>;
  /** The XMPP domain: roster items and block lists hold bare JIDs `${userId}@${domain}`. Default 'localhost'. */
  domain?: string;
}

export interface PresenceSource {
  kind: PresenceTuple['source']['kind'];
  id: string;
  available: boolean;
  show: PresenceTuple['show'];
  status: string | null;
  priority: number;
  onThePhone: boolean;
  inMeeting: boolean;
  updatedAt: number;
}

export interface PresenceAnswer {
  userId: string;
  perspective: string | null;
  visible: boolean;
  reason: View['reason'];
  state: View['composed']['state'];
  text: string | null;
  onThePhone: boolean;
  inMeeting: boolean;
  /** Only in the administrator's view (no perspective). */
  sources?: PresenceSource[];
}

function invalid(field: string, rule: string): ImpError {
  return new ImpError('IMP_VALIDATION', `${field}: ${rule}`, { field });
}

/** The perspective query parameter: absent or "" (an empty form field) means none; else one user ID. */
export function parsePerspective(raw: unknown): string | null {
  if (raw === undefined || raw === '') return null;
  if (typeof raw !== 'string') throw invalid('perspective', 'expected one user ID');
  if ([...raw].length > MAX_PERSPECTIVE_CHARS) throw invalid('perspective', `at most ${MAX_PERSPECTIVE_CHARS} characters`);
  try {
    return prepLocalpart(raw);
  } catch (err) {
    throw invalid('perspective', `not a user ID: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A tuple field by field (nothing a source attached rides along), flags as plain booleans. */
function source(t: PresenceTuple): PresenceSource {
  return {
    kind: t.source.kind, id: t.source.id, available: t.available, show: t.show, status: t.status,
    priority: t.priority, onThePhone: t.onThePhone === true, inMeeting: t.inMeeting === true, updatedAt: t.updatedAt,
  };
}

const bySource = (a: PresenceSource, b: PresenceSource): number =>
  a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

function notFound(field: string, userId: string): ImpError {
  return new ImpError('IMP_USER_NOT_FOUND', `${field}: no user ${userId}`, { field });
}

export async function presenceOf(deps: PresenceRouteDeps, rawUserId: unknown, rawPerspective: unknown): Promise<PresenceAnswer> {
  const userId = prepUserId(rawUserId);
  const perspective = parsePerspective(rawPerspective);
  const { store } = deps;
  if (!(await store.users.get(userId))) throw notFound('userId', userId);
  if (perspective !== null && perspective !== userId && !(await store.users.get(perspective))) throw notFound('perspective', perspective);

  const tuples = deps.presence ? await deps.presence(userId) : [];
  const composed = aggregate(tuples);
  // The administrator sees what the owner sees; the owner needs no roster item to see themself.
  const watcher = perspective ?? userId;
  let view: View;
  if (watcher === userId) {
    view = viewFor({ owner: userId, watcher, item: null, blockedByOwner: false, composed });
  } else {
    const watcherJid = `${watcher}@${deps.domain ?? 'localhost'}`;
    const [item, blockedByOwner] = await Promise.all([store.rosters.getItem(userId, watcherJid), store.blocks.isBlocked(userId, watcherJid)]);
    view = viewFor({ owner: userId, watcher, item, blockedByOwner, composed });
  }
  const answer: PresenceAnswer = {
    userId, perspective, visible: view.visible, reason: view.reason,
    state: view.composed.state, text: view.composed.text, onThePhone: view.composed.onThePhone, inMeeting: view.composed.inMeeting,
  };
  if (perspective === null) answer.sources = tuples.map(source).sort(bySource);
  return answer;
}

export function registerPresenceRoute(app: FastifyInstance, deps: PresenceRouteDeps): void {
  app.get<{ Params: { userId: string }; Querystring: Record<string, unknown> }>('/api/v1/users/:userId/presence', async (req) =>
    presenceOf(deps, req.params.userId, req.query.perspective));
}

// --- OpenAPI (merged into openapi.ts) ---

type Json = Record<string, unknown>;
const errorRef = (description: string): Json => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
const bool = { type: 'boolean' };

export const presenceOpenApiSchemas: Json = {
  Presence: {
    type: 'object',
    required: ['userId', 'perspective', 'visible', 'reason', 'state', 'text', 'onThePhone', 'inMeeting'],
    properties: {
      userId: { type: 'string' },
      perspective: { type: ['string', 'null'], description: 'the watcher whose view this is; null for the administrator\'s view' },
      visible: bool,
      reason: { enum: ['self', 'subscribed', 'not-subscribed', 'blocked', 'anonymous'] },
      state: { enum: ['available', 'away', 'dnd', 'unavailable', 'custom'] },
      text: { type: ['string', 'null'] },
      onThePhone: bool,
      inMeeting: bool,
      sources: {
        type: 'array',
        description: 'only in the administrator\'s view (no perspective): every live source, ordered by kind then id',
        items: {
          type: 'object',
          required: ['kind', 'id', 'available', 'show', 'status', 'priority', 'onThePhone', 'inMeeting', 'updatedAt'],
          properties: {
            kind: { enum: ['xmpp', 'sip', 'phone', 'calendar'] },
            id: { type: 'string' },
            available: bool,
            show: { enum: ['available', 'chat', 'away', 'xa', 'dnd'] },
            status: { type: ['string', 'null'] },
            priority: { type: 'integer' },
            onThePhone: bool,
            inMeeting: bool,
            updatedAt: { type: 'integer', description: 'ms since the epoch' },
          },
        },
      },
    },
  },
};

export const presenceOpenApiPaths: Json = {
  '/api/v1/users/{userId}/presence': {
    get: {
      summary: 'A user\'s composed presence, as the administrator sees it or from the perspective of another user',
      parameters: [
        { name: 'userId', in: 'path', required: true, schema: { type: 'string' }, description: 'prepared like a JID localpart, so Alice finds alice' },
        { name: 'perspective', in: 'query', schema: { type: 'string', maxLength: MAX_PERSPECTIVE_CHARS }, description: 'another user ID: answer what that watcher may see; absent or empty for the administrator\'s view' },
      ],
      responses: {
        200: { description: 'the presence', content: { 'application/json': { schema: { $ref: '#/components/schemas/Presence' } } } },
        400: errorRef('userId or perspective is not a user ID (the error names the field)'),
        401: errorRef('bearer token missing or wrong'),
        404: errorRef('no such user (userId or perspective)'),
        503: errorRef('store unavailable'),
      },
    },
  },
};
