/**
 * A small TCP proxy between the service and one dependency, so a network fault hits only the
 * service's own connections (MariaDB is shared; the campaign's checker reads the truth directly):
 *
 * - `delay(ms)`: every chunk, each direction, is forwarded `ms` later, in order (a slow link);
 * - `stall()`: nothing is forwarded, connections stay open and new ones are accepted but not
 *   connected onward (a frozen peer, or a partition TCP has not noticed yet);
 * - `cut()`: every connection is reset and new ones are reset at once (a partition that is felt);
 * - `heal()`: back to passing bytes; what a stall held back flows on.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';

type Mode = { kind: 'pass' } | { kind: 'delay'; ms: number } | { kind: 'stall' } | { kind: 'cut' };

interface Direction {
  to: Socket;
  queue: Array<{ at: number; chunk: Buffer }>;
  timer: NodeJS.Timeout | undefined;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** Chunks from the client that arrived before the upstream connection existed. */
  early: Buffer[];
  out: Direction | undefined;
  back: Direction | undefined;
}

export class TcpProxy {
  readonly name: string;
  readonly target: { host: string; port: number };
  /** Connections it has reset in cuts: evidence the fault touched something. */
  resets = 0;
  accepted = 0;
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private mode: Mode = { kind: 'pass' };
  private listening: number | undefined;

  constructor(name: string, target: { host: string; port: number }) {
    this.name = name;
    this.target = target;
    this.server = createServer((client) => this.accept(client));
  }

  /** Listens on `port` (0: any free one) and returns it. */
  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = this.server.address();
    this.listening = typeof address === 'object' && address ? address.port : port;
    return this.listening;
  }

  get port(): number {
    if (this.listening === undefined) throw new Error(`proxy ${this.name} is not listening`);
    return this.listening;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.pairs.size;
  }

  delay(ms: number): void {
    this.mode = { kind: 'delay', ms };
  }

  stall(): void {
    this.mode = { kind: 'stall' };
    for (const pair of this.pairs) {
      pair.client.pause();
      pair.upstream?.pause();
    }
  }

  cut(): void {
    this.mode = { kind: 'cut' };
    for (const pair of [...this.pairs]) this.reset(pair);
  }

  heal(): void {
    this.mode = { kind: 'pass' };
    for (const pair of [...this.pairs]) {
      if (!pair.upstream) this.connectUpstream(pair);
      pair.client.resume();
      pair.upstream?.resume();
      for (const direction of [pair.out, pair.back]) if (direction) this.flush(direction);
    }
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) this.destroy(pair);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.accepted++;
    const pair: Pair = { client, upstream: undefined, early: [], out: undefined, back: undefined };
    client.on('error', () => this.destroy(pair));
    client.on('close', () => this.destroy(pair));
    if (this.mode.kind === 'cut') {
      this.resets++;
      client.resetAndDestroy();
      return;
    }
    this.pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (pair.out) this.forward(pair.out, chunk);
      else pair.early.push(chunk);
    });
    if (this.mode.kind === 'stall') client.pause();
    else this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    const upstream = connect(this.target);
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    pair.client.setNoDelay(true);
    pair.out = { to: upstream, queue: [], timer: undefined };
    pair.back = { to: pair.client, queue: [], timer: undefined };
    upstream.on('error', () => this.reset(pair));
    upstream.on('close', () => this.destroy(pair));
    upstream.on('data', (chunk: Buffer) => this.forward(pair.back!, chunk));
    for (const chunk of pair.early.splice(0)) this.forward(pair.out, chunk);
  }

  private forward(direction: Direction, chunk: Buffer): void {
    const mode = this.mode;
    if (mode.kind === 'cut') return;
    const delayMs = mode.kind === 'delay' ? mode.ms : 0;
    if (direction.queue.length === 0 && delayMs === 0 && mode.kind !== 'stall') {
      direction.to.write(chunk);
      return;
    }
    // Behind what is queued already, so bytes never overtake each other.
    const last = direction.queue[direction.queue.length - 1];
    direction.queue.push({ at: Math.max(Date.now() + delayMs, last?.at ?? 0), chunk });
    if (mode.kind !== 'stall') this.flush(direction);
  }

  private flush(direction: Direction): void {
    clearTimeout(direction.timer);
    direction.timer = undefined;
    while (direction.queue.length > 0) {
      const head = direction.queue[0]!;
      const wait = this.mode.kind === 'pass' ? 0 : head.at - Date.now();
      if (this.mode.kind === 'stall') return;
      if (wait > 0) {
        direction.timer = setTimeout(() => this.flush(direction), wait);
        return;
      }
      direction.queue.shift();
      if (!direction.to.destroyed) direction.to.write(head.chunk);
    }
  }

  private reset(pair: Pair): void {
    if (!this.pairs.has(pair)) return;
    this.resets++;
    this.pairs.delete(pair);
    for (const direction of [pair.out, pair.back]) if (direction) clearTimeout(direction.timer);
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    if (pair.upstream && !pair.upstream.destroyed) pair.upstream.resetAndDestroy();
  }

  private destroy(pair: Pair): void {
    if (!this.pairs.has(pair)) return;
    this.pairs.delete(pair);
    for (const direction of [pair.out, pair.back]) if (direction) clearTimeout(direction.timer);
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
