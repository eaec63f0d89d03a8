import net from 'node:net';

/**
 * A TCP relay in front of the machine's PostgreSQL that can be paused: while paused it keeps
 * accepting connections but forwards nothing (bytes and closes are held, in order), which is what
 * a PostgreSQL that hangs looks like to its clients. The real server is never touched.
 */
export class PgRelay {
  private paused = false;
  private held: Array<() => void> = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number } = { host: '127.0.0.1', port: 5432 }): Promise<PgRelay> {
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const relay = new PgRelay(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => relay.pair(client, target));
    return relay;
  }

  /** `postgres://` URL of the relay. */
  url(db = 'test'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }

  /** Stop forwarding: the server seems to hang (connections accepted, nothing answered). */
  pause(): void {
    this.paused = true;
  }

  /** Forward again, starting with what was held. */
  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const act of held) act();
  }

  /** Drop every connection and stop listening. */
  async close(): Promise<void> {
    this.held = [];
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pair(client: net.Socket, target: { host: string; port: number }): void {
    const upstream = net.connect({ ...target, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    }
    const forward = (from: net.Socket, to: net.Socket) => {
      const run = (act: () => void) => (this.paused ? this.held.push(act) : act());
      from.on('data', (chunk: Buffer) => run(() => to.write(chunk)));
      from.on('end', () => run(() => to.end()));
      from.on('close', () => run(() => to.destroy()));
    };
    forward(client, upstream);
    forward(upstream, client);
  }
}
