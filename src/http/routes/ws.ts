import websocket from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocketLimits } from '../../config.ts';
import type { ActivityCache } from '../../inventory/activity-cache.ts';
import type { Orders } from '../../lifecycle/orders.ts';
import type { Waitlist } from '../../lifecycle/waitlist.ts';
import type { Metrics } from '../../platform/metrics.ts';
import type { WaitingRoom } from '../../waiting-room/waiting-room.ts';
import type { UserAuth } from '../auth.ts';
import { logWebSocketOpen } from '../access-log.ts';
import { errors } from '../response-schemas.ts';
import { CLOSE, createSocketHub } from '../socket-hub.ts';

const WS_DESCRIPTION = [
  'WebSocket. Authenticate with `Authorization: Bearer <jwt>` or, since browsers cannot set headers on a WebSocket, `?token=<jwt>` (accepted on this route only).',
  'The server sends JSON text messages (schema: `#/components/schemas/WsMessage`):',
  '- `{"type": "hello", "userId": "…"}` once, when the socket opens (`WsHelloMessage`);',
  '- `{"type": "order", "order": {…}}` whenever one of your orders changes status (`WsOrderMessage`; `order` as in GET /api/v1/orders/{orderId});',
  '- `{"type": "waitlist", "waitlist": {activityId, status, offerExpiresAt?}}` when a unit is offered to you or your offer expires (`WsWaitlistMessage`);',
  '- `{"type": "queue", "ticket": {…}}` when your waiting-room ticket is ADMITTED (its pass included) (`WsQueueMessage`);',
  '- `{"type": "queue-progress", activityId, admittedTotal, waiting, closed?}` about once a second while a waiting room moves, to every socket (`WsQueueProgressMessage`).',
  'Messages from the client are ignored, but each one counts as activity: a client that sends nothing for `SECKILL_WS_IDLE_TIMEOUT_MS` is closed (4004).',
  'The server pings every `SECKILL_WS_HEARTBEAT_MS`; a client that does not answer (browsers do by themselves) is dropped.',
  'Close codes: ' +
    Object.entries(CLOSE)
      .filter(([name]) => name !== 'GOING_AWAY')
      .map(([name, code]) => `${code} \`${name}\``)
      .join(', ') +
    ' (the reason text is the name; 4001-4003 come at once, without `hello`), and 1001 when the server shuts down; see the README for what a client should do on each.',
].join('\n');

/**
 * `GET /api/v1/ws`: pushes `{"type": "order", "order": {...}}` to the owner whenever one of their
 * orders changes status. Status changes arrive by pub/sub, so the socket may be on any instance.
 */
export interface WsRouteDeps {
  orders: Pick<Orders, 'onAnnounce'>;
  waitlist: Pick<Waitlist, 'onEvent'>;
  waitingRoom: Pick<WaitingRoom, 'onEvent' | 'admittedTicket'>;
  activities: Pick<ActivityCache, 'get'>;
  userAuth: UserAuth;
  limits: WebSocketLimits;
  metrics: Pick<Metrics, 'wsOpen' | 'wsRefused' | 'wsClosed' | 'wsMessages'>;
}

export function wsRoutes(deps: WsRouteDeps): FastifyPluginAsync {
  return async (app) => {
    const hub = createSocketHub(deps.limits, deps.metrics);
    // Before the plugin's own preClose (which closes sockets without a code): clients learn it is a shutdown.
    app.addHook('preClose', async () => hub.close());
    await app.register(websocket, { options: { maxPayload: 4096 } });
    await deps.orders.onAnnounce((order) => hub.sendToUser(order.userId, { type: 'order', order }));
    deps.waitlist.onEvent((event) => {
      for (const { userId, waitlist } of event.changes) hub.sendToUser(userId, { type: 'waitlist', waitlist });
    });
    deps.waitingRoom.onEvent((event) => {
      if (event.kind === 'progress') {
        // Every socket hears the line move (one small message a second per sale); a page moves
        // its own place from it instead of asking, and learns at once that its ticket closed.
        const { kind: _kind, ...progress } = event;
        hub.broadcast({ type: 'queue-progress', ...progress });
        return;
      }
      const admitted = event.users.filter((user) => hub.hasUser(user.userId));
      if (admitted.length === 0) return;
      void deps.activities.get(event.activityId).then((activity) => {
        if (!activity) return;
        for (const user of admitted) hub.sendToUser(user.userId, { type: 'queue', ticket: deps.waitingRoom.admittedTicket(activity, user, event.admittedTotal) });
      });
    });

    app.get(
      '/api/v1/ws',
      {
        websocket: true,
        preValidation: deps.userAuth.authenticateWebSocket,
        schema: {
          tags: ['buyer'],
          security: [{ userBearer: [] }, { userTokenQuery: [] }],
          operationId: 'openWebSocket',
          summary: 'Open the WebSocket of your order, waitlist and waiting-room changes',
          description: WS_DESCRIPTION,
          querystring: { type: 'object', properties: { token: { type: 'string', description: 'the user JWT, for browsers' } } },
          response: { 101: { description: 'Switching Protocols: the socket is open', type: 'null' }, ...errors('UNAUTHORIZED') },
        },
      },
      (socket, request) => {
        logWebSocketOpen(request);
        // The upgraded socket would otherwise keep the request for its whole life: the plugin's error listener
        // holds the request and reply, and the TCP socket the response the plugin attached to it. Both let go,
        // a socket costs about 3.7 KB of heap instead of 6.9 (measured over 8,000 sockets).
        socket.removeAllListeners('error');
        const tcp = request.raw.socket as typeof request.raw.socket & { _httpMessage?: { detachSocket(socket: unknown): void } | null };
        tcp._httpMessage?.detachSocket(tcp);
        if (hub.admit(socket, request.userId, request.ip)) socket.send(JSON.stringify({ type: 'hello', userId: request.userId }));
      },
    );
  };
}
