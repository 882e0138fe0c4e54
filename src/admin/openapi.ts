/**
 * The OpenAPI 3.1 description of the admin API, served at
 * GET /api/v1/openapi.json. Request bodies are generated from the zod schemas
 * in users-service.ts, so the description cannot drift from the rules enforced.
 */
import { z } from 'zod';
import { presenceOpenApiPaths, presenceOpenApiSchemas } from './presence-route.js';
import { createUserSchema, MAX_PAGE_LIMIT, DEFAULT_PAGE_LIMIT, patchUserSchema } from './users-service.js';

type Json = Record<string, unknown>;

function bodySchema(schema: z.ZodType): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  return rest;
}

const nullableString = { type: ['string', 'null'] };

const userRecord: Json = {
  type: 'object',
  required: ['userId', 'firstName', 'lastName', 'displayName', 'email', 'telephoneNumber', 'imPresenceEnabled', 'homeCluster', 'createdAt', 'updatedAt'],
  properties: {
    userId: { type: 'string' },
    firstName: nullableString,
    lastName: nullableString,
    displayName: nullableString,
    email: nullableString,
    telephoneNumber: nullableString,
    imPresenceEnabled: { type: 'boolean' },
    homeCluster: { type: 'boolean' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};

const errorBody: Json = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
    },
  },
};

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json): Json => ({ 'application/json': { schema } });
const error = (description: string): Json => ({ description, content: json(ref('Error')) });
const userIdParam = { name: 'userId', in: 'path', required: true, schema: { type: 'string' }, description: 'prepared like a JID localpart, so Alice finds alice' };
const common = { 401: error('bearer token missing or wrong'), 503: error('store unavailable') };

let cached: Json | null = null;

export function openApiDocument(): Json {
  cached ??= {
    openapi: '3.1.0',
    info: { title: 'imp admin API', version: '1' },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { User: userRecord, CreateUser: bodySchema(createUserSchema), PatchUser: bodySchema(patchUserSchema), Error: errorBody, ...presenceOpenApiSchemas },
    },
    paths: {
      '/api/v1/users': {
        post: {
          summary: 'Create a user',
          requestBody: { required: true, content: json(ref('CreateUser')) },
          responses: { 201: { description: 'created', content: json(ref('User')) }, 400: error('a field breaks a rule'), 409: error('userId taken'), ...common },
        },
        get: {
          summary: 'List users ordered by userId',
          parameters: [
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT } },
          ],
          responses: {
            200: {
              description: 'one page',
              content: json({
                type: 'object',
                required: ['users', 'total', 'offset', 'limit'],
                properties: { users: { type: 'array', items: ref('User') }, total: { type: 'integer' }, offset: { type: 'integer' }, limit: { type: 'integer' } },
              }),
            },
            400: error('bad offset or limit'),
            ...common,
          },
        },
      },
      '/api/v1/users/{userId}': {
        parameters: [userIdParam],
        get: { summary: 'Read a user', responses: { 200: { description: 'the user', content: json(ref('User')) }, 404: error('no such user'), ...common } },
        patch: {
          summary: 'Change a user (omitted fields keep their value, null clears)',
          requestBody: { required: true, content: { ...json(ref('PatchUser')), 'application/merge-patch+json': { schema: ref('PatchUser') } } },
          responses: { 200: { description: 'the changed user', content: json(ref('User')) }, 400: error('a field breaks a rule'), 404: error('no such user'), ...common },
        },
        delete: { summary: 'Remove a user', responses: { 204: { description: 'removed' }, 404: error('no such user'), ...common } },
      },
      ...presenceOpenApiPaths,
      '/healthz': { get: { summary: 'Health', security: [], responses: { 200: { description: 'healthy' }, 503: { description: 'unhealthy' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
    },
  };
  return cached;
}
