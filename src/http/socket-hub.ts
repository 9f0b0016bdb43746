/**
 * The WebSockets of this process, kept cheap at the size of a crowd (a waiting room holds every buyer's tab open):
 * - caps per user, per client address and per process, each refused with its own close code, so one token or
 *   one address cannot hold the process's memory (each socket costs kilobytes) and a full process says so;
 * - one sweep timer pings every socket and drops the ones that left a ping unanswered for two intervals (a
 *   peer gone without a FIN holds its socket forever otherwise) and closes the ones whose client went silent: no
 *   per-socket timer;
 * - a message is serialised and encoded once, however many sockets it goes to;
 * - a socket that does not read (its unsent bytes pass a bound) is closed rather than buffered without end.
 *
 * The caps are per process, not shared through Redis: they protect this process's memory, which is what a
 * socket costs, and a counter in Redis would add a round trip to every open and leak on every crash. A user
 * spread over N processes holds at most N × the per-user cap, a bounded number.
 */
import type { WebSocket } from 'ws';
import type { WebSocketLimits } from '../config.ts';
import type { KNOWN_LABELS, Metrics } from '../platform/metrics.ts';

/** Close codes the client can act on; the README says what a client does on each. */
export const CLOSE = {
  /** The user has SECKILL_WS_MAX_PER_USER sockets open here: do not redial until one of them closes. */
  USER_SOCKET_LIMIT: 4001,
  /** The client's address has SECKILL_WS_MAX_PER_IP sockets open here: likewise. */
  IP_SOCKET_LIMIT: 4002,
  /** This process holds SECKILL_WS_MAX_PER_INSTANCE sockets: redial after a jittered delay (poll meanwhile). */
  SERVER_FULL: 4003,
  /** The client sent nothing for SECKILL_WS_IDLE_TIMEOUT_MS: redial when the user is back. */
  IDLE_TIMEOUT: 4004,
  /** The client read too slowly: redial with back-off and fetch what it may have missed. */
  SLOW_CONSUMER: 4005,
  GOING_AWAY: 1001,
} as const;

export type CloseName = Exclude<keyof typeof CLOSE, 'GOING_AWAY'>;
type ClosedReason = (typeof KNOWN_LABELS.wsClosedReason)[number];

/** Sockets one sweep turn handles before yielding, so a sweep over a crowd never stalls the event loop. */
const SWEEP_SLICE = 2000;
const OPEN = 1;

interface Conn {
  readonly socket: WebSocket;
  readonly userId: string;
  readonly ip: string;
  /** When the client last sent a message (pongs do not count: browsers send them by themselves). */
  heardAtMs: number;
  /** A pong or a message since the last ping. */
  answered: boolean;
  /** When the last ping was sent: a peer is judged from its own ping, not from its sweep's start. */
  pingedAtMs: number;
  /** Why it was closed, once it is: it is counted once, under the first reason. */
  closedAs: ClosedReason | undefined;
}

export interface SocketHub {
  /** Takes a freshly upgraded socket; closes it with its cap's code and returns false when a cap is reached. */
  admit(socket: WebSocket, userId: string, ip: string): boolean;
  /** Sends `payload` to every open socket of the user. */
  sendToUser(userId: string, payload: unknown): void;
  /** Sends `payload` to every open socket of this process. */
  broadcast(payload: unknown): void;
  /** Whether the user has a socket open here (so a message built for them only is worth building). */
  hasUser(userId: string): boolean;
  /** Closes every socket (1001) and stops the sweep. */
  close(): void;
}

export function createSocketHub(
  limits: WebSocketLimits,
  metrics: Pick<Metrics, 'wsOpen' | 'wsRefused' | 'wsClosed' | 'wsMessages'>,
): SocketHub {
  const conns = new Set<Conn>();
  const byUser = new Map<string, Conn[]>();
  const byIp = new Map<string, number>();

  function refuse(socket: WebSocket, reason: (typeof KNOWN_LABELS.wsRefusedReason)[number], name: CloseName): false {
    metrics.wsRefused.inc({ reason });
    socket.close(CLOSE[name], name);
    return false;
  }

  /**
   * Counts the socket closed and frees its places at once, even though a close handshake may take up to ws's
   * close timeout: the caps and the gauge follow what the server decided.
   */
  function forget(conn: Conn, reason: ClosedReason): void {
    if (conn.closedAs !== undefined) return;
    conn.closedAs = reason;
    conns.delete(conn);
    metrics.wsOpen.set(conns.size);
    metrics.wsClosed.inc({ reason });
    const mine = byUser.get(conn.userId);
    if (mine) {
      mine.splice(mine.indexOf(conn), 1);
      if (mine.length === 0) byUser.delete(conn.userId);
    }
    const left = (byIp.get(conn.ip) ?? 1) - 1;
    if (left === 0) byIp.delete(conn.ip);
    else byIp.set(conn.ip, left);
  }

  function shut(conn: Conn, reason: ClosedReason, code: number, text: string): void {
    forget(conn, reason);
    conn.socket.close(code, text);
  }

  function check(conn: Conn, nowMs: number, judge: boolean): void {
    if (conn.closedAs !== undefined || conn.socket.readyState !== OPEN) return;
    if (!conn.answered) {
      // Two intervals from its own ping, not one from its sweep's start: a sweep over a crowd on a saturated
      // process takes seconds, and its pongs wait unread while upgrades hold the event loop (bench/RESULTS.md).
      if (!judge || nowMs - conn.pingedAtMs < 2 * limits.heartbeatMs) return;
      // No close handshake: a dead peer would hold the socket for the whole close timeout.
      forget(conn, 'heartbeat');
      conn.socket.terminate();
      return;
    }
    if (limits.idleTimeoutMs > 0 && nowMs - conn.heardAtMs >= limits.idleTimeoutMs) {
      shut(conn, 'idle', CLOSE.IDLE_TIMEOUT, 'IDLE_TIMEOUT');
      return;
    }
    conn.answered = false;
    conn.pingedAtMs = nowMs;
    conn.socket.ping();
  }

  let sweeping = false;
  let lastSweepMs = Date.now();
  function sweep(): void {
    // A sweep still under way (a huge crowd on a busy process) is not started twice.
    if (sweeping) return;
    sweeping = true;
    const startMs = Date.now();
    // A late sweep means this process's event loop was stalled (a burst of upgrades on a busy machine): pongs
    // may be waiting unread in its sockets, so nobody is judged dead on this round.
    const judge = startMs - lastSweepMs < limits.heartbeatMs * 1.5;
    lastSweepMs = startMs;
    const pending = conns.values();
    const turn = () => {
      const nowMs = Date.now();
      for (let i = 0; i < SWEEP_SLICE; i++) {
        const next = pending.next();
        if (next.done) {
          sweeping = false;
          return;
        }
        check(next.value, nowMs, judge);
      }
      setImmediate(turn);
    };
    turn();
  }
  const sweeper = setInterval(sweep, limits.heartbeatMs);
  sweeper.unref();

  // Shared by every socket: a socket error (reset, bad frame) ends it; `close` follows and forgets it.
  function onError(this: WebSocket): void {
    this.terminate();
  }

  /** Encoded once: ws frames the same bytes for every socket (a string would be encoded per send). */
  function encode(payload: unknown): Buffer {
    return Buffer.from(JSON.stringify(payload));
  }

  function deliver(conn: Conn, data: Buffer): boolean {
    const socket = conn.socket;
    if (conn.closedAs !== undefined || socket.readyState !== OPEN) return false;
    // Past the bound before this message: memory per socket stays under the bound plus one message.
    if (socket.bufferedAmount > limits.maxBufferedBytes) {
      shut(conn, 'slow_consumer', CLOSE.SLOW_CONSUMER, 'SLOW_CONSUMER');
      return false;
    }
    socket.send(data, { binary: false });
    return true;
  }

  return {
    admit(socket, userId, ip) {
      socket.on('error', onError);
      if (limits.maxPerInstance > 0 && conns.size >= limits.maxPerInstance) return refuse(socket, 'instance', 'SERVER_FULL');
      const fromIp = byIp.get(ip) ?? 0;
      if (limits.maxPerIp > 0 && fromIp >= limits.maxPerIp) return refuse(socket, 'ip', 'IP_SOCKET_LIMIT');
      const mine = byUser.get(userId);
      if (limits.maxPerUser > 0 && (mine?.length ?? 0) >= limits.maxPerUser) return refuse(socket, 'user', 'USER_SOCKET_LIMIT');

      const conn: Conn = { socket, userId, ip, heardAtMs: Date.now(), answered: true, pingedAtMs: 0, closedAs: undefined };
      conns.add(conn);
      if (mine) mine.push(conn);
      else byUser.set(userId, [conn]);
      byIp.set(ip, fromIp + 1);
      metrics.wsOpen.set(conns.size);
      socket.on('pong', () => {
        conn.answered = true;
      });
      socket.on('message', () => {
        conn.answered = true;
        conn.heardAtMs = Date.now();
      });
      socket.on('close', () => forget(conn, 'client'));
      return true;
    },

    sendToUser(userId, payload) {
      const mine = byUser.get(userId);
      if (!mine) return;
      const data = encode(payload);
      let sent = 0;
      // Backwards: closing a slow consumer removes it from this very array.
      for (let i = mine.length - 1; i >= 0; i--) if (deliver(mine[i]!, data)) sent++;
      if (sent > 0) metrics.wsMessages.inc(sent);
    },

    broadcast(payload) {
      const data = encode(payload);
      let sent = 0;
      // A Set tolerates deleting the entry being visited, as closing a slow consumer does.
      for (const conn of conns) if (deliver(conn, data)) sent++;
      if (sent > 0) metrics.wsMessages.inc(sent);
    },

    hasUser: (userId) => byUser.has(userId),

    close() {
      clearInterval(sweeper);
      for (const conn of conns) {
        if (conn.closedAs === undefined) shut(conn, 'shutdown', CLOSE.GOING_AWAY, 'server shutting down');
      }
    },
  };
}
