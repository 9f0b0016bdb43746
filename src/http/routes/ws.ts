import websocket from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import type { Services } from '../../services/container.ts';
import { logWebSocketOpen } from '../access-log.ts';
import { errors } from '../response-schemas.ts';

const WS_DESCRIPTION = [
  'WebSocket. Authenticate with `Authorization: Bearer <jwt>` or, since browsers cannot set headers on a WebSocket, `?token=<jwt>` (accepted on this route only).',
  'The server sends JSON text messages (schema: `#/components/schemas/WsMessage`):',
  '- `{"type": "hello", "userId": "…"}` once, when the socket opens (`WsHelloMessage`);',
  '- `{"type": "order", "order": {…}}` whenever one of your orders changes status (`WsOrderMessage`; `order` as in GET /api/v1/orders/{orderId});',
  '- `{"type": "waitlist", "waitlist": {activityId, status, offerExpiresAt?}}` when a unit is offered to you or your offer expires (`WsWaitlistMessage`).',
  'Messages from the client are ignored.',
].join('\n');

/**
 * `GET /api/v1/ws`: pushes `{"type": "order", "order": {...}}` to the owner whenever one of their
 * orders changes status. Status changes arrive by pub/sub, so the socket may be on any instance.
 */
export function wsRoutes(services: Services): FastifyPluginAsync {
  const sockets = new Map<string, Set<WebSocket>>();

  function push(userId: string, payload: unknown): void {
    const text = JSON.stringify(payload);
    for (const socket of sockets.get(userId) ?? []) {
      if (socket.readyState === socket.OPEN) socket.send(text);
    }
  }

  return async (app) => {
    await app.register(websocket, { options: { maxPayload: 4096 } });
    await services.orders.onAnnounce((order) => push(order.userId, { type: 'order', order }));
    services.waitlist.onEvent((event) => {
      for (const { userId, waitlist } of event.changes) push(userId, { type: 'waitlist', waitlist });
    });

    app.get(
      '/api/v1/ws',
      {
        websocket: true,
        preValidation: services.userAuth.authenticateWebSocket,
        schema: {
          tags: ['buyer'],
          security: [{ userBearer: [] }, { userTokenQuery: [] }],
          description: WS_DESCRIPTION,
          querystring: { type: 'object', properties: { token: { type: 'string', description: 'the user JWT, for browsers' } } },
          response: { 101: { description: 'Switching Protocols: the socket is open', type: 'null' }, ...errors(401) },
        },
      },
      (socket, request) => {
        logWebSocketOpen(request);
        const userId = request.userId;
        let set = sockets.get(userId);
        if (!set) {
          set = new Set();
          sockets.set(userId, set);
        }
        set.add(socket);
        socket.on('close', () => {
          set.delete(socket);
          if (set.size === 0) sockets.delete(userId);
        });
        socket.send(JSON.stringify({ type: 'hello', userId }));
      },
    );

    app.addHook('onClose', async () => {
      for (const set of sockets.values()) for (const socket of set) socket.close(1001, 'server shutting down');
    });
  };
}
