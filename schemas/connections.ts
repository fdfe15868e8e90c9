// Lifecycle events of identified WebSocket connections (`connections`, key userId), user status
// changes (`user-status`, key userId) and cluster-wide commands about a user's connections
// (`user-control`, key userId). Consumers outside switchboard read `connections` (docs/connections.md).
import { Type, type Static } from '@sinclair/typebox'

const Base = {
  v: Type.Literal(1),
  id: Type.String({ description: 'stable per fact: <connectionId>:<type>, or <connectionId>:<type>:<channel>:<n> for subscribed/unsubscribed (n counts those facts on the connection, so a resubscribe has a new id); an event seen twice (a redelivery, or a disconnected re-emitted by a reaper that took over) carries the same id' }),
  userId: Type.String({ minLength: 1 }),
  connectionId: Type.String({ minLength: 1 }),
  instanceId: Type.String({ minLength: 1, description: 'the instance that held the socket' }),
  at: Type.String({ description: 'when the event was produced (ISO time)' })
}

export const ConnectionConnected = Type.Object({
  ...Base,
  type: Type.Literal('connected'),
  data: Type.Object({ transport: Type.Union([Type.Literal('uws'), Type.Literal('fastify')]) })
})

/** Why a connection ended; `code` is the WebSocket close code (null when none was seen: instance_lost). */
export const DisconnectReason = Type.Union([
  'client_closed', 'connection_lost', 'server_shutdown', 'slow_consumer', 'rate_limited', 'token_expired', 'admin_disconnect', 'instance_lost'
].map((r) => Type.Literal(r)), { description: 'see docs/connections.md' })

export const ConnectionDisconnected = Type.Object({
  ...Base,
  type: Type.Literal('disconnected'),
  data: Type.Object({
    reason: DisconnectReason,
    code: Type.Union([Type.Integer(), Type.Null()]),
    connectedAt: Type.String({ description: 'when the connection opened (ISO time)' })
  })
})

export const ConnectionSubscribed = Type.Object({ ...Base, type: Type.Literal('subscribed'), data: Type.Object({ channel: Type.String() }) })
export const ConnectionUnsubscribed = Type.Object({ ...Base, type: Type.Literal('unsubscribed'), data: Type.Object({ channel: Type.String() }) })

export const ConnectionEvent = Type.Union([ConnectionConnected, ConnectionDisconnected, ConnectionSubscribed, ConnectionUnsubscribed])
export type ConnectionEvent = Static<typeof ConnectionEvent>
export type DisconnectReason = Static<typeof DisconnectReason>

/** A user's status across the cluster: online while at least one identified connection is open anywhere. */
export const UserStatus = Type.Object({
  userId: Type.String(),
  status: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  version: Type.Integer({ minimum: 0, description: 'grows with every change of this user\'s status: keep the highest seen (events of two instances can arrive out of order)' })
})
export type UserStatus = Static<typeof UserStatus>

export const UserStatusEvent = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('user.status'),
  userId: Type.String({ minLength: 1 }),
  at: Type.String(),
  data: UserStatus
})
export type UserStatusEvent = Static<typeof UserStatusEvent>

/** Cluster-wide: every instance closes the user's sockets (admin API). */
export const UserControlEvent = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('user.disconnect'),
  userId: Type.String({ minLength: 1 }),
  at: Type.String(),
  data: Type.Object({ code: Type.Integer(), reason: Type.String({ maxLength: 120 }) })
})
export type UserControlEvent = Static<typeof UserControlEvent>
