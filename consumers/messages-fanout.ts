// Every instance delivers each message event to its own subscribers (broadcast: one group per instance).
import { MessageEvent } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'messages-fanout',
  topic: 'messages',
  mode: 'broadcast',
  schema: MessageEvent,
  async handle (event, { app, position }) {
    // A new message carries its position (as history shows it); edits and deletions name their
    // message and only the frame carries the event's own position.
    const data = event.type === 'message.created' ? { ...event.data, position } : event.data
    app.fanout.publish(event.channelId, event.type, data, position)
  }
})
