// The plugin API: what a plugin of your own imports from switchboard, in one module (docs/extending.md).
// Import from here, never from plugins/ or schemas/: their files may move, this module stays.
// Importing it also brings the app's decorators into your types (app.topicHandlers, app.events,
// app.channels, app.moderation, request.user, …).

// Topic handlers: react to the events of a topic (app.topicHandlers.add) with retries and dead letters.
export { defineTopicHandler } from './plugins/topic-handlers.ts'
export type { TopicHandler, TopicEvent, HandlerContext, BatchContext, DeadLetter, HandledRecord, TopicHandlers } from './plugins/topic-handlers.ts'
/** Throw it (or an error it wraps) for a failure worth retrying without limit, such as a service outage. */
export { TransientError } from './plugins/external/errors.ts'
export type { BusRecord, DeliveryMode } from './plugins/bus/index.ts'
export type { Role } from './config.ts'

// Topics: the built-in catalogue, and declaring one of your own (app.topicHandlers.addTopic).
export { defineTopic, topics } from './schemas/topics.ts'
export type { Topic, TopicFanout } from './schemas/topics.ts'
/** Every event is a versioned envelope {v, type, channelId, at, data}: build your topic's schema with it. */
export { Envelope } from './schemas/events.ts'
export type { MessageEvent } from './schemas/events.ts'
export type { Position } from './schemas/message.ts'

// Channels: where a topic's `fanout` sends events, and access checks from your own routes
// (app.channels.assertAccess, app.channels.guard).
export { personalChannel, statusChannel } from './schemas/channel-kinds.ts'
export type { Access, Channels } from './plugins/channels/index.ts'
/** Who sent the request (`request.user`, null when anonymous): what access checks take. */
export type { User } from './plugins/auth.ts'

// Moderation checks: app.moderation.register({ name, check }).
export type { ModerationCheck, ModeratedMessage, ModerationVerdict } from './plugins/moderation/index.ts'
