// Every instance delivers each message event to its own subscribers (broadcast: one group per instance).
import { MessageEvent, messageEventData } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'messages-fanout',
  topic: 'messages',
  mode: 'broadcast',
  schema: MessageEvent,
  async handle (event, { app, position }) {
    app.fanout.publish(event.channelId, event.type, messageEventData(event, position), position)
  }
})
