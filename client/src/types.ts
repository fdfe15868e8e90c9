// Protocol and API types, all taken from the server's TypeBox schemas (type-only imports: TypeBox and
// the schemas stay out of the bundle). A change to a schema on the server breaks this package's type-check.
import type { Static } from '@sinclair/typebox'
import type { CloseCodes, ClientFrame as ClientFrameOf, ErrorCodes, ServerFrame as ServerFrameOf } from '../../fanout/protocol.ts'
import type { topics } from '../../schemas/topics.ts'
import type { HistoryMessage as HistoryMessageOf, Message as MessageOf, Position as PositionOf } from '../../schemas/message.ts'
import type { Channel as ChannelOf, CreateChannelBody as CreateChannelBodyOf } from '../../schemas/channel.ts'
import type { HistoryPage as HistoryPageSchema, PostMessageBody as PostMessageBodyOf, RepliesPage as RepliesPageSchema } from '../../schemas/http.ts'
import type { PresenceResponse as PresenceResponseOf } from '../../schemas/user-activity.ts'
import type { Pin as PinOf, PinList as PinListSchema } from '../../schemas/pin.ts'
import type { ChannelUnread as ChannelUnreadOf, ReceiptsResponse as ReceiptsResponseOf, UnreadResponse as UnreadResponseOf, UserSettings as UserSettingsOf } from '../../schemas/read-state.ts'

// Aliases, not `export type { Message }`: a server name is both a TypeBox schema and its type, and
// re-exported as is it would make the package's bundled index.d.ts declare the schema as a value
// that index.js does not export (dts-bundle-generator issue 290).
export type ClientFrame = ClientFrameOf
export type ServerFrame = ServerFrameOf
export type Message = MessageOf
export type Position = PositionOf
export type ChannelInfo = ChannelOf
export type CreateChannelBody = CreateChannelBodyOf
export type PostMessageBody = PostMessageBodyOf
export type PresenceResponse = PresenceResponseOf
/** A history entry: a message, or the placeholder `{id, channelId, deleted: true, thread}` of a deleted parent with replies. */
export type HistoryMessage = HistoryMessageOf
export type HistoryPage = Omit<Static<typeof HistoryPageSchema>, 'messages'> & { messages: HistoryMessage[] }
export type RepliesPage = Static<typeof RepliesPageSchema>
export type Pin = PinOf
export type PinList = Static<typeof PinListSchema>
export type ChannelUnread = ChannelUnreadOf
export type UnreadResponse = UnreadResponseOf
export type ReceiptsResponse = ReceiptsResponseOf
export type UserSettings = UserSettingsOf
export type ErrorCode = keyof typeof ErrorCodes | (string & {})

type Catalogue = typeof topics
/** Every event a client receives in an `event` frame: of each topic of the server's catalogue, the
 *  events of the types it declares client-visible (`clientEvents`), as its schema defines them. */
export type ServerEvent = {
  [K in keyof Catalogue]: Extract<Static<Catalogue[K]['schema']>, { type: Catalogue[K]['clientEvents'][number] }>
}[keyof Catalogue]
export type EventType = ServerEvent['type']
/** The `data` of an event frame: a new message carries its position (messageEventData on the server). */
export type EventData<T extends EventType> = T extends 'message.created'
  ? Message & { position: Position }
  : Extract<ServerEvent, { type: T }>['data']

export type EventFrame = Extract<ServerFrame, { op: 'event' }>
export type SubscribedFrame = Extract<ServerFrame, { op: 'subscribed' }>
export type ReadyFrame = Extract<ServerFrame, { op: 'ready' }>
export type ErrorFrame = Extract<ServerFrame, { op: 'error' }>

/** Close codes the server documents (fanout/README.md); checked against the server's table. */
export const Close = {
  NORMAL: 1000,
  GOING_AWAY: 1001 satisfies typeof CloseCodes.GOING_AWAY,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  ABNORMAL: 1006,
  POLICY: 1008,
  FRAME_TOO_BIG: 1009 satisfies typeof CloseCodes.FRAME_TOO_BIG,
  SLOW_CONSUMER: 4008 satisfies typeof CloseCodes.SLOW_CONSUMER,
  RATE_LIMITED: 4029 satisfies typeof CloseCodes.RATE_LIMITED,
  TOKEN_EXPIRED: 4401 satisfies typeof CloseCodes.TOKEN_EXPIRED
} as const

/** The part of the WebSocket API the client uses: the browser's, and `ws`'s in Node. */
export interface WebSocketLike {
  readonly readyState: number
  send (data: string): void
  close (code?: number, reason?: string): void
  onopen: ((ev: any) => void) | null
  // `any`: the DOM's and ws's event classes differ; the client reads `data`, `code`, `reason`, `message`
  onmessage: ((ev: any) => void) | null
  onclose: ((ev: any) => void) | null
  onerror: ((ev: any) => void) | null
}
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** Timers the client uses; tests inject their own. */
export interface Clock {
  setTimeout (fn: () => void, ms: number): unknown
  clearTimeout (handle: unknown): void
  now (): number
}
