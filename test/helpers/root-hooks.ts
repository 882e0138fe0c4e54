/** Mocha root hooks: one private Redis for the whole run. */
import { startSharedRedis, stopSharedRedis } from './redis-server.js';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(20000);
    await startSharedRedis();
  },
  async afterAll(): Promise<void> {
    await stopSharedRedis();
  },
};
