/** Starts real imp nodes for end-to-end tests: loopback, ephemeral ports, one store kind each. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startNode, type NodeHandle, type StartOptions } from '../../src/main.js';
import { deriveCredentials } from '../../src/xmpp/sasl/scram.js';
import type { StoreKind, UserFields } from '../../src/store/types.js';
import { freshPrefix, testRedisUrl } from './redis-server.js';

export const STORE_KINDS: StoreKind[] = ['memory', 'embedded', 'redis'];
export const TEST_TOKEN = 'test-token-0123456789abcdef';

export interface TestNode extends NodeHandle {
  /** Adds a user able to sign in (IM&P and home cluster on unless fields say otherwise). */
  addUser(userId: string, password: string, fields?: UserFields): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestNode(kind: StoreKind, extraArgs: string[] = [], opts: StartOptions & { redisUrl?: string; prefix?: string; dataDir?: string } = {}): Promise<TestNode> {
  const args = ['--domain', 'localhost', '--xmpp-host', '127.0.0.1', '--xmpp-port', '0', '--xmpps-port', '0', '--http-port', '0',
    '--log-level', process.env.IMP_TEST_LOG ?? 'silent', '--admin-token', TEST_TOKEN];
  let dir: string | null = null;
  if (kind === 'memory') args.push('--store', 'memory');
  if (kind === 'embedded') {
    dir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'imp-node-'));
    args.push('--store', 'embedded', '--data-dir', dir);
  }
  if (kind === 'redis') args.push('--store', 'redis', '--redis-url', opts.redisUrl ?? testRedisUrl(), '--redis-prefix', opts.prefix ?? freshPrefix('e2e'));
  const { config } = loadConfig([...args, ...extraArgs], {});
  const node = await startNode(config, opts);
  return Object.assign(node, {
    async addUser(userId: string, password: string, fields: UserFields = {}) {
      await node.store.users.create(userId, { imPresenceEnabled: true, homeCluster: true, ...fields }, deriveCredentials(password));
    },
    async stop() {
      await node.close();
      if (dir && !opts.dataDir) rmSync(dir, { recursive: true, force: true });
    },
  });
}
