/** The in-process bus: nodes in one process (one node in production, several in tests). */
import type { Bus, BusHandler, BusMessage } from './types.js';

export class LocalBus implements Bus {
  private handlers = new Map<string, BusHandler>();

  async send(nodeId: string, msg: BusMessage): Promise<boolean> {
    const h = this.handlers.get(nodeId);
    if (!h) return false;
    // Asynchronous like a real network hop, so callers never depend on re-entrancy.
    queueMicrotask(() => h(msg));
    return true;
  }

  async listen(nodeId: string, handler: BusHandler): Promise<void> {
    if (this.handlers.has(nodeId)) throw new Error(`node ${nodeId} already listens on this bus`);
    this.handlers.set(nodeId, handler);
  }

  /** Stops one node's handler (the node shut down). */
  unlisten(nodeId: string): void { this.handlers.delete(nodeId); }

  async close(): Promise<void> { this.handlers.clear(); }
}
