// The channels the server names for a user, apart from the channels clients create: the personal
// channel `user:<id>` (only that user reads it) and the status channel `status:<id>` (anyone may
// watch, only the server publishes). Declared here so the topic catalogue can route events to them.
// The client bundles this module too (its public API re-exports it), so it imports nothing.

/** A user's own channel `user:<id>`: every connection of the user is subscribed to it (notifications). */
export const PERSONAL_PREFIX = 'user:'
/** A user's status channel `status:<id>` (online / offline changes, docs/connections.md). */
export const STATUS_PREFIX = 'status:'

export const personalChannel = (userId: string) => `${PERSONAL_PREFIX}${userId}`
export const statusChannel = (userId: string) => `${STATUS_PREFIX}${userId}`

/** Whether a channel is a user's personal channel (`user:<id>`), which the server subscribes and publishes to. */
export const isPersonalChannel = (channelId: string) => channelId.startsWith(PERSONAL_PREFIX)
/** Whether a channel is a user's status channel (`status:<id>`). */
export const isStatusChannel = (channelId: string) => channelId.startsWith(STATUS_PREFIX)
/** Whether the server names the channel for a user (personal or status), rather than clients creating it. */
export const isServerNamedChannel = (channelId: string) => isPersonalChannel(channelId) || isStatusChannel(channelId)
