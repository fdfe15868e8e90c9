// Every instance delivers reaction events to its own subscribers of the channel; reactions carry no
// position (they are not part of the channel's message stream).
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'reactions-fanout',
  topic: topics.reactions,
  mode: 'broadcast',
  async handle (event, { app }) {
    app.fanout.publish(event.channelId, event.type, event.data)
  }
})
