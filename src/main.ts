/**
 * The composition root: configuration → store → bus → XMPP service → admin
 * API. The only place that picks concrete implementations; everything else
 * takes interfaces.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createAdminServer } from './admin/http-server.js';
import { LocalBus } from './bus/local.js';
import { RedisBus } from './bus/redis.js';
import type { Bus } from './bus/types.js';
import type { Config } from './config.js';
import { openStore } from './store/open.js';
import type { Store, StoreOptions } from './store/types.js';
import { loadTlsIdentity } from './tls.js';
import { systemClock, type Clock } from './util/clock.js';
import { createLogger, type Logger } from './util/log.js';
import { Metrics } from './util/metrics.js';
import { XmppService } from './xmpp/service.js';

export const VERSION: string = (() => {
  const pkg = new URL('../../package.json', import.meta.url);
  try { return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version; } catch { return '0.0.0'; }
})();

export interface NodeHandle {
  config: Config;
  ports: { xmpp: number; xmpps: number; http: number };
  store: Store;
  xmpp: XmppService;
  admin: FastifyInstance;
  adminToken: string;
  log: Logger;
  close(): Promise<void>;
}

export function storeOptions(config: Config): StoreOptions {
  return { kind: config.store, redisUrl: config.redisUrl, prefix: config.redisPrefix, dataDir: config.dataDir, domain: config.domain };
}

export interface StartOptions { log?: Logger; bus?: Bus; clock?: Clock; onTokenGenerated?(token: string): void }

export async function startNode(config: Config, opts: StartOptions = {}): Promise<NodeHandle> {
  const log = opts.log ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  const store = await openStore(storeOptions(config), log);
  const cleanups: Array<() => Promise<void>> = [() => store.close()];
  const closeAll = async (): Promise<void> => { for (const c of cleanups.reverse()) await c().catch((e) => log.warn({ err: e }, 'shutdown step failed')); };
  try {
    const persistent = config.store !== 'memory';
    const tlsId = await loadTlsIdentity({ domain: config.domain, certFile: config.tlsCert, keyFile: config.tlsKey, dataDir: persistent ? config.dataDir : undefined });
    const adminToken = resolveAdminToken(config, persistent, opts.onTokenGenerated);
    const metrics = new Metrics();
    // Several nodes share a Redis store: they reach each other's sessions over Redis pub/sub too.
    const bus = opts.bus ?? (config.store === 'redis' && config.redisUrl
      ? await RedisBus.open({ url: config.redisUrl, prefix: config.redisPrefix, log })
      : new LocalBus((e) => log.error({ err: e }, 'bus handler failed')));
    if (!opts.bus) cleanups.push(() => bus.close());

    store.onStatus((s) => (s === 'down' ? log.error('store unreachable: sign-ins fail until it returns') : log.info('store reachable again')));
    const xmpp = new XmppService({
      domain: config.domain, host: config.xmppHost, port: config.xmppPort, tlsPort: config.xmppsPort, nodeId: config.nodeId,
      version: VERSION, offlineMax: config.offlineMax, maxContacts: config.maxContacts, maxWatchers: config.maxWatchers, allowPlaintext: config.allowPlaintext, maxAuthFailures: config.maxAuthFailures,
      maxStanzaBytes: config.maxStanzaSize, idleTimeoutMs: config.idleTimeout * 1000, pingTimeoutMs: config.pingTimeout * 1000,
      authTimeoutMs: config.authTimeout * 1000,
    }, store, bus, tlsId, clock, metrics, log);
    cleanups.push(() => xmpp.stop());
    await xmpp.start();

    const admin = await createAdminServer({
      store, metrics, token: adminToken, log, domain: config.domain,
      presence: (userId) => xmpp.router.presenceTuples(userId),
      health: async () => {
        const checks: Record<string, string> = {};
        let ok = true;
        try { await store.ping(); checks.store = `ok (${store.kind})`; } catch (e) { ok = false; checks.store = (e as Error).message; }
        checks.xmpp = xmpp.listening ? 'ok' : 'not listening';
        if (!xmpp.listening) ok = false;
        return { ok, checks };
      },
      onUserChanged: (userId, user) => {
        if (!user || !user.imPresenceEnabled || !user.homeCluster) {
          void xmpp.router.closeUser(userId, 'not-authorized', 'this account was removed or disabled by an administrator')
            .catch((e) => log.warn({ err: e, userId }, 'could not close the sessions of a changed user'));
        }
      },
    });
    await admin.listen({ host: config.httpHost, port: config.httpPort });
    cleanups.push(() => admin.close());
    const addr = admin.server.address();
    const httpPort = typeof addr === 'object' && addr ? addr.port : config.httpPort;

    log.info({ node: config.nodeId, domain: config.domain, store: store.kind, xmpp: xmpp.ports.xmpp, xmpps: xmpp.ports.xmpps, http: httpPort }, 'imp node started');
    return {
      config, ports: { ...xmpp.ports, http: httpPort }, store, xmpp, admin, adminToken, log,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** The configured admin token, or one generated at first start and kept in the data folder (shown once). */
function resolveAdminToken(config: Config, persistent: boolean, onGenerated?: (t: string) => void): string {
  if (config.adminToken) return config.adminToken;
  const file = path.join(config.dataDir, 'admin-token');
  if (persistent && existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('base64url');
  if (persistent) {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, token + '\n', { mode: 0o600 });
  }
  onGenerated?.(token);
  return token;
}
