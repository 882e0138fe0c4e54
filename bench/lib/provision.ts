/**
 * Puts the benchmark users in place before anything is measured. The
 * embedded and redis stores are written directly (openStore, one set of
 * SCRAM credentials derived once and shared by every user, so this takes
 * seconds); the memory store lives inside the server process, so it is
 * filled through the admin API.
 */
import { openStore } from '../../src/store/open.js';
import type { StoreOptions } from '../../src/store/types.js';
import { deriveCredentials } from '../../src/xmpp/sasl/scram.js';

export const PASSWORD = 'bench-password';
export const userName = (i: number): string => `bu${i}`;

/** Runs `fn(i)` for i in [0, n) with at most `limit` in flight. */
export async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** Writes users bu0..bu{n-1} straight into an embedded or redis store (before the node opens it). */
export async function provisionDirect(opts: StoreOptions, n: number): Promise<void> {
  const store = await openStore(opts);
  try {
    const creds = deriveCredentials(PASSWORD, { iterations: 4096 });
    await pool(n, opts.kind === 'redis' ? 100 : 1, async (i) => {
      await store.users.create(userName(i), { imPresenceEnabled: true, homeCluster: true }, creds);
    });
  } finally {
    await store.close();
  }
}

/** Creates users bu0..bu{n-1} through a running node's admin API (the memory store). */
export async function provisionViaApi(httpPort: number, token: string, n: number): Promise<void> {
  await pool(n, 8, async (i) => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ userId: userName(i), password: PASSWORD, imPresenceEnabled: true, homeCluster: true }),
      signal: AbortSignal.timeout(30000),
    });
    if (res.status !== 201 && res.status !== 200) throw new Error(`creating ${userName(i)}: HTTP ${res.status} ${await res.text()}`);
  });
}
