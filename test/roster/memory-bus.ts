/**
 * An in-process stand-in for the broker in unit tests: QoS 1 in order, '+' and '#' filters,
 * retained messages, and a switch to cut one client off (its messages are lost, as with a clean
 * session).
 */
export class MemoryBus {
  private readonly clients = new Set<BusClient>();
  private readonly retained = new Map<string, Buffer>();
  readonly log: { from: string; topic: string; payload: Buffer }[] = [];
  /** messages for which this returns true are lost on the way (to every subscriber) */
  lose: (topic: string, payload: Buffer) => boolean = () => false;

  client(name: string, onMessage: (topic: string, payload: Buffer) => void): BusClient {
    const c = new BusClient(this, name, onMessage);
    this.clients.add(c);
    return c;
  }

  deliver(from: BusClient, topic: string, payload: Buffer, retain: boolean): void {
    this.log.push({ from: from.name, topic, payload });
    if (this.lose(topic, payload)) return;
    if (retain) this.retained.set(topic, payload);
    for (const c of this.clients) if (c.online && c.matches(topic)) c.onMessage(topic, payload);
  }

  retainedFor(filter: string): [string, Buffer][] {
    return [...this.retained].filter(([t]) => matchFilter(filter, t));
  }
}

export class BusClient {
  online = true;
  private readonly filters: string[] = [];
  constructor(private readonly bus: MemoryBus, readonly name: string, readonly onMessage: (topic: string, payload: Buffer) => void) {}

  async subscribeAsync(topics: string[], _opts: { qos: 0 | 1 }): Promise<void> {
    for (const f of topics) {
      this.filters.push(f);
      for (const [t, p] of this.bus.retainedFor(f)) this.onMessage(t, p);
    }
  }

  publish(topic: string, payload: string | Buffer, opts: { qos: 1; retain?: boolean }, cb?: (err?: Error) => void): void {
    if (this.online) this.bus.deliver(this, topic, Buffer.from(payload), opts.retain ?? false);
    cb?.();
  }

  async publishAsync(topic: string, payload: string | Buffer, opts: { qos: 1; retain?: boolean }): Promise<void> {
    this.publish(topic, payload, opts);
  }

  matches(topic: string): boolean {
    return this.filters.some((f) => matchFilter(f, topic));
  }
}

function matchFilter(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
