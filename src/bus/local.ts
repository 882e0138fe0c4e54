/** The in-process bus: nodes in one process (one node in production, several in tests). */
import type { Bus, BusHandler, BusMessage } from './types.js';

export class LocalBus implements Bus {
  private handlers = new Map<string, BusHandler>();

  /** `onError`: a handler that throws is reported here instead of taking the process down. */
  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  private call(h: BusHandler, msg: BusMessage): void {
    try { h(msg); } catch (e) { this.onError(e); }
  }

  async send(nodeId: string, msg: BusMessage): Promise<boolean> {
    const h = this.handlers.get(nodeId);
    if (!h) return false;
    // Asynchronous like a real network hop, so callers never depend on re-entrancy.
    queueMicrotask(() => this.call(h, msg));
    return true;
  }

  async sendMany(nodeId: string, msgs: BusMessage[]): Promise<boolean> {
    const h = this.handlers.get(nodeId);
    if (!h) return false;
    // One microtask per message keeps the order and lets one throwing handler call spare the rest.
    for (const msg of msgs) queueMicrotask(() => this.call(h, msg));
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
