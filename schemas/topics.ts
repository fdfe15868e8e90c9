// The topic catalogue: every topic of the log declared once. The producer's validation, the topic
// handlers' event types and schemas, the OpenAPI/protocol description, the fanout's list of event
// types, the relays that deliver a topic's events to sockets (`fanout`, plugins/topic-relay.ts) and
// the client's event union (client/src/types.ts) all derive from these declarations. A plugin
// declares a topic of its own the same way (`defineTopic`) and hands it to its handlers, or to
// `app.topicHandlers.addTopic` for its relay.
import type { Static, TSchema } from '@sinclair/typebox'
import { ChannelAccessChanged, MessageStreamEvent, NotificationEvent, PinEvent, ReactionEvent, UserActivityEvent, ThreadUpdated } from './events.ts'
import { ConnectionEvent, UserControlEvent, UserStatusEvent } from './connections.ts'
import { personalChannel, statusChannel } from './channel-kinds.ts'
import { ReadMarkerEvent, ReadUpdatedEvent, ReceiptEvent } from './read-state.ts'

/** The channel an event is delivered on (a method type: a topic of one schema still fits `Topic<TSchema>`). */
export type Route<Ev> = { route (event: Ev): string }['route']

/**
 * How a topic's client events reach sockets: one route for all of them, or one per event type (a
 * topic may send some events to the user's own channel and others to the channel).
 */
export type TopicFanout<Ev, T extends string> = Route<Ev> | { [K in T]: Route<Extract<Ev, { type: K }>> }

export interface Topic<S extends TSchema = TSchema, E extends readonly string[] = readonly string[]> {
  /** Logical name (the configured prefix is prepended on Kafka); `<name>.dlq` holds its dead letters. */
  name: string
  /** What the record key is: records with one key keep their order. */
  key: string
  /** The event envelope, validated once on produce and once per record on consume. */
  schema: S
  /** Whether its events are part of a channel's message stream (carry `{epoch, offset}` positions clients resume from). */
  positioned: boolean
  /** Event types clients receive over WebSocket (`event` frames); empty for internal topics. */
  clientEvents: E
  /**
   * Where its client events are delivered: every fanout instance then relays them to its subscribers
   * of that channel (a broadcast handler derived from this entry, plugins/topic-relay.ts). Absent
   * when a handler of its own delivers them (messages) or clients never see them.
   */
  fanout?: TopicFanout<Static<S>, E[number]>
  description: string
}

/** Identity function that keeps the schema's type for the handlers of the topic. */
export function defineTopic<S extends TSchema, const E extends readonly string[]> (topic: Topic<S, E>): Topic<S, E> {
  return topic
}

export const topics = {
  messages: defineTopic({
    name: 'messages',
    key: 'channelId',
    schema: MessageStreamEvent,
    positioned: true,
    clientEvents: ['message.created', 'message.updated', 'message.deleted'],
    // no `fanout`: consumers/messages-fanout.ts delivers them with their positions and revises the recovery buffer
    description: 'every message change of a channel; stored, cached, fanned out, replayed on reconnect; and a mark of each access change of the channel, in order with its messages (never sent to clients)'
  }),
  reactions: defineTopic({
    name: 'reactions',
    key: 'channelId',
    schema: ReactionEvent,
    positioned: false,
    clientEvents: ['reaction.added', 'reaction.removed'],
    fanout: (event) => event.channelId,
    description: 'reactions onto stored messages; stored on the message, fanned out'
  }),
  pins: defineTopic({
    name: 'pins',
    key: 'channelId',
    schema: PinEvent,
    positioned: false,
    clientEvents: ['pin.added', 'pin.removed'],
    // clients keep the highest `version` per message: the log's order of two changes of one pin
    // may differ from the order their requests were answered in (plugins/pins/)
    fanout: (event) => event.channelId,
    description: 'pins and unpins of a channel\'s messages, each reserved before it is produced (at most PINS_MAX per channel); stored, fanned out'
  }),
  threads: defineTopic({
    name: 'threads',
    key: 'channelId',
    schema: ThreadUpdated,
    positioned: false,
    clientEvents: ['thread.updated'],
    fanout: (event) => event.channelId,
    description: 'a thread\'s state (replyCount, lastReplyAt, participants) after the store counted replies into it; fanned out, not replayed'
  }),
  userActivity: defineTopic({
    name: 'user-activity',
    key: 'channelId',
    schema: UserActivityEvent,
    positioned: false,
    clientEvents: ['typing', 'presence.join', 'presence.leave'],
    fanout: (event) => event.channelId,
    description: 'ephemeral channel activity: fanned out, never stored'
  }),
  notifications: defineTopic({
    name: 'notifications',
    key: 'userId',
    schema: NotificationEvent,
    positioned: false,
    clientEvents: ['notification'],
    fanout: (event) => personalChannel(event.userId),
    description: 'per-user notifications (mentions, replies in a thread), delivered on the personal channel user:<id>'
  }),
  channels: defineTopic({
    name: 'channels',
    key: 'channelId',
    schema: ChannelAccessChanged,
    positioned: false,
    clientEvents: [],
    description: 'who may use a channel changed: every instance refreshes its copy and re-checks its subscribers'
  }),
  connections: defineTopic({
    name: 'connections',
    key: 'userId',
    schema: ConnectionEvent,
    positioned: false,
    clientEvents: [],
    description: 'connected / disconnected / subscribed / unsubscribed of identified WebSocket connections, for consumers outside switchboard; one disconnected per connected, also when an instance dies (docs/connections.md)'
  }),
  notificationsOffline: defineTopic({
    name: 'notifications.offline',
    key: 'userId',
    schema: NotificationEvent,
    positioned: false,
    clientEvents: [],
    description: 'notifications for users with no live connection anywhere, for a push sender outside switchboard; at least once, deduplicate by data.id'
  }),
  userStatus: defineTopic({
    name: 'user-status',
    key: 'userId',
    schema: UserStatusEvent,
    positioned: false,
    clientEvents: ['user.status'],
    // clients keep the highest `version` per user: changes made on two instances can arrive out of
    // order, and the current status sent on subscribe can cross a change in flight
    fanout: (event) => statusChannel(event.userId),
    description: 'a user went online or offline (cluster-wide); delivered on status:<userId>'
  }),
  userControl: defineTopic({
    name: 'user-control',
    key: 'userId',
    schema: UserControlEvent,
    positioned: false,
    clientEvents: [],
    description: 'commands about a user\'s connections (admin disconnect): every instance acts on its own sockets'
  }),
  readMarkers: defineTopic({
    name: 'read-markers',
    key: 'userId',
    schema: ReadMarkerEvent,
    positioned: false,
    clientEvents: [],
    description: 'read markers as users set them (forward, or back with mark as unread): folded per user and channel per batch into the read-state store'
  }),
  readUpdates: defineTopic({
    name: 'read-updates',
    key: 'userId',
    schema: ReadUpdatedEvent,
    positioned: false,
    clientEvents: ['read.updated'],
    // produced by the store handler once the marker moved: a device that reloads counts then sees them
    fanout: (event) => personalChannel(event.userId),
    description: 'a user\'s read marker moved in the store; delivered on the personal channel user:<id> so every device clears its badge'
  }),
  receipts: defineTopic({
    name: 'receipts',
    key: 'channelId',
    schema: ReceiptEvent,
    positioned: false,
    clientEvents: ['receipt.read'],
    fanout: (event) => event.channelId,
    description: 'a member\'s marker moved in a channel of at most RECEIPTS_MAX_READERS readers (throttled); delivered to the channel, not stored'
  })
} as const

export type BuiltInTopics = typeof topics

/** An event type clients receive over WebSocket, as the catalogue declares them (a new one changes this type). */
export type ClientEventType = BuiltInTopics[keyof BuiltInTopics]['clientEvents'][number]

/** Every client-visible event type, in catalogue order (the protocol docs list these). */
export const clientEventTypes: readonly ClientEventType[] = Object.values(topics).flatMap((t) => t.clientEvents)
