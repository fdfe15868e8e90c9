// Every instance delivers each message event to its own subscribers (broadcast: one group per instance).
import { messageEventData } from '../schemas/events.ts'
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'messages-fanout',
  topic: topics.messages,
  mode: 'broadcast',
  async handle (event, { app, position }) {
    app.fanout.publish(event.channelId, event.type, messageEventData(event, position), position)
  }
})
