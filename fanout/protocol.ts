// Fanout protocol v1: the frames a client may send, the frames the server sends, and the codes.
// Client frames are checked with schemas compiled once; server frames are built as strings here.
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { ChannelId, Position } from '../schemas/message.ts'
import { messageEventData, type MessageEvent } from '../schemas/events.ts'

export const PROTOCOL_VERSION = 1

// One channel id schema (schemas/message.ts) for HTTP and WebSocket alike.
export { ChannelId }

export const SubscribeFrame = Type.Object({
  op: Type.Literal('subscribe'),
  channel: ChannelId,
  since: Type.Optional(Position)
})
export const UnsubscribeFrame = Type.Object({ op: Type.Literal('unsubscribe'), channel: ChannelId })
export const PingFrame = Type.Object({ op: Type.Literal('ping') })
export type SubscribeFrame = Static<typeof SubscribeFrame>
export type UnsubscribeFrame = Static<typeof UnsubscribeFrame>
export type ClientFrame = SubscribeFrame | UnsubscribeFrame | Static<typeof PingFrame>

// One compiled checker per op: dispatching on `op` first gives precise errors ("unknown_op" vs "bad_frame").
export const clientFrameCheckers = {
  subscribe: TypeCompiler.Compile(SubscribeFrame),
  unsubscribe: TypeCompiler.Compile(UnsubscribeFrame),
  ping: TypeCompiler.Compile(PingFrame)
} as const

/** Error codes a client can receive in an `error` frame. Hooks may add their own (snake_case). */
export const ErrorCodes = {
  bad_json: 'the frame is not valid JSON',
  bad_frame: 'the frame is not a JSON object with the fields its op needs (or it is binary)',
  bad_channel: 'the channel id is empty, longer than 128 characters or has characters outside [A-Za-z0-9_.:-]',
  unknown_op: 'the op is not subscribe, unsubscribe or ping',
  frame_too_large: 'the frame is larger than WS_MAX_PAYLOAD bytes (it was ignored; the connection stays)',
  already_subscribed: 'the connection is already subscribed (or subscribing) to the channel',
  not_subscribed: 'unsubscribe of a channel the connection is not subscribed to',
  too_many_subscriptions: 'the connection holds the maximum number of subscriptions',
  forbidden: 'the connection may not subscribe to the channel',
  busy: 'the channel was too busy while the subscription was being set up; retry',
  internal_error: 'the server failed to handle the frame; retry later',
  rate_limited: 'the connection sent more frames than WS_FRAME_RATE / WS_FRAME_BURST allow; the frame was ignored'
} as const
export type ErrorCode = keyof typeof ErrorCodes

/** WebSocket close codes the server uses. */
export const CloseCodes = {
  /** the server is shutting down; reconnect (to another instance) */
  GOING_AWAY: 1001,
  /** the instance lost its lease on its connections (it was unreachable too long; they were reported disconnected): reconnect */
  LEASE_LOST: 1012,
  /** the instance can no longer deliver events (its event-log consumer stopped for good): reconnect to another instance */
  EVENTS_LOST: 1011,
  /** a frame above the transport's hard limit (4 × WS_MAX_PAYLOAD); API port only, uWS drops with 1006 */
  FRAME_TOO_BIG: 1009,
  /** the client read too slowly: more than WS_MAX_BACKPRESSURE bytes were waiting for it */
  SLOW_CONSUMER: 4008,
  /** API port: the client answered no ping for WS_IDLE_TIMEOUT (the socket is dropped right after; uWS drops it with no close frame, 1006) */
  IDLE_TIMEOUT: 4408,
  /** the client kept sending frames past its budget: another WS_FRAME_BURST frames after `rate_limited` */
  RATE_LIMITED: 4029,
  /** the token the connection was opened with expired (its `exp`); reconnect with a fresh one */
  TOKEN_EXPIRED: 4401,
  /** an administrator disconnected the user (POST /api/admin/users/:id/disconnect); do not reconnect at once */
  ADMIN_DISCONNECT: 4403
} as const

// Server frame schemas: documentation and test oracles; the builders below produce exactly these.
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
export const ServerFrame = Type.Union([
  Type.Object({ op: Type.Literal('ready'), protocol: Type.Literal(PROTOCOL_VERSION), connectionId: Type.String(), user: Type.Optional(Type.String()) }),
  Type.Object({ op: Type.Literal('subscribed'), channel: ChannelId, position: Nullable(Position), recovered: Type.Boolean() }),
  Type.Object({ op: Type.Literal('event'), channel: ChannelId, position: Type.Optional(Position), type: Type.String(), data: Type.Unknown() }),
  Type.Object({ op: Type.Literal('error'), code: Type.String(), message: Type.String() }),
  Type.Object({ op: Type.Literal('pong') })
])
export type ServerFrame = Static<typeof ServerFrame>

const PONG = JSON.stringify({ op: 'pong' })

/** Server frames, serialised once; an event frame goes to every subscriber as the same string. */
export const frames = {
  ready: (connectionId: string, user?: string) => JSON.stringify({ op: 'ready', protocol: PROTOCOL_VERSION, connectionId, user }),
  subscribed: (channel: string, position: Position | null, recovered: boolean) =>
    JSON.stringify({ op: 'subscribed', channel, position, recovered }),
  event: (channel: string, type: string, data: unknown, position?: Position) =>
    JSON.stringify({ op: 'event', channel, position, type, data }),
  error: (code: ErrorCode | (string & {}), message: string) => JSON.stringify({ op: 'error', code, message }),
  pong: () => PONG
}

/**
 * The `event` frame of a message event: the one builder for the frame delivered live
 * (consumers/messages-fanout.ts), kept in the shared log for replay (consumers/messages-recovery.ts)
 * and rebuilt by `revise` (plugins/recovery/plan.ts), so a replay is byte for byte what was sent live.
 */
export function messageFrame (event: MessageEvent, position: Position): string {
  return frames.event(event.channelId, event.type, messageEventData(event, position), position)
}
