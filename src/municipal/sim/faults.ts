/** Faults the simulator injects, one per request, in the order they were queued. */
export type SimFault =
  /** answer with an HTTP error (5xx by default), optionally with a Retry-After header */
  | { kind: 'server_error'; status: number; retryAfter?: string }
  /** read the request, never answer, keep the connection open until the client gives up */
  | { kind: 'hold' }
  /** read the request and destroy the connection without a reply */
  | { kind: 'drop' }
  /** answer 200 with a body that is not JSON, or JSON that is not an envelope */
  | { kind: 'garble'; form: 'invalid_json' | 'bad_schema' };

export type SimFaultKind = SimFault['kind'];

export class FaultQueue {
  private readonly queue: SimFault[] = [];

  push(fault: SimFault, times: number): void {
    if (!Number.isInteger(times) || times < 0) throw new TypeError(`fault count must be a whole number ≥ 0, got ${times}`);
    for (let i = 0; i < times; i++) this.queue.push(fault);
  }

  /** The fault for the next request, if any. */
  take(): SimFault | undefined {
    return this.queue.shift();
  }

  clear(): void {
    this.queue.length = 0;
  }

  get pending(): number {
    return this.queue.length;
  }
}
