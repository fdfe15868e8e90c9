// Every message event into the durable store, idempotently: upsert by id, patch, delete.
import { MessageEvent } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'

export default defineTopicHandler({
  name: 'messages-store',
  topic: 'messages',
  mode: 'shared',
  schema: MessageEvent,
  async handle (event, { app, position, log }) {
    switch (event.type) {
      case 'message.created':
        await app.store.upsert({ ...event.data, position })
        break
      case 'message.updated': {
        const { content, editedAt } = event.data
        // Edits follow their message in the log: a missing one was deleted meanwhile, nothing to do.
        if (!await app.store.patch(event.data.id, { content, editedAt })) log.debug({ messageId: event.data.id }, 'edit of a deleted message ignored')
        break
      }
      case 'message.deleted':
        // Deleted for good (the text is gone, as the author asked); history never shows it again.
        await app.store.remove(event.data.id)
        break
    }
  }
})
