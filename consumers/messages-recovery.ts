// Keeps each channel's recent message events in the shared recovery log (Redis), once cluster-wide,
// so a client that reconnects to any instance can be given what it missed (docs/recovery.md).
import { MessageEvent, messageEventData } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { frames } from '../fanout/protocol.ts'

export default defineTopicHandler({
  name: 'messages-recovery',
  topic: 'messages',
  mode: 'shared',
  schema: MessageEvent,
  async handle (event, { app, position }) {
    // The very frame messages-fanout publishes (test/e2e/recovery.test.ts compares them byte for byte).
    await app.recovery.log.append(event.channelId, position, frames.event(event.channelId, event.type, messageEventData(event, position), position))
  }
})
