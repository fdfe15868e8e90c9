// Every instance delivers reaction events to its own subscribers of the channel; reactions carry no
// position (they are not part of the channel's message stream).
import { ReactionEvent } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'reactions-fanout',
  topic: 'reactions',
  mode: 'broadcast',
  schema: ReactionEvent,
  async handle (event, { app }) {
    app.fanout.publish(event.channelId, event.type, event.data)
  }
})
