// Keeps each channel's recent message events in the shared recovery log (Redis), once cluster-wide,
// so a client that reconnects to any instance can be given what it missed (docs/recovery.md). One
// pipelined round trip per batch. Edits and deletions carry their revision: the log serves each
// message's earlier frames as it stands now (a deleted message's text is never replayed).
import { topics } from '../schemas/topics.ts'
import { isMessageEvent } from '../schemas/events.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { messageFrame } from '../fanout/protocol.ts'
import { revisionOf } from '../plugins/recovery/plan.ts'

export default defineTopicHandler({
  name: 'messages-recovery',
  topic: topics.messages,
  mode: 'shared',
  // Redis only: goes on while the store waits out a MongoDB outage (docs/operations.md)
  group: 'cache',
  async handleBatch (events, { app }) {
    // The very frame messages-fanout publishes, from the same builder (test/e2e/recovery.test.ts compares them byte for byte).
    const entries = events.flatMap(({ event, position }) => isMessageEvent(event)
      ? [{ channel: event.channelId, position, frame: messageFrame(event, position), revision: revisionOf(event) }]
      : [])
    if (entries.length > 0) await app.recovery.log.appendBatch(entries)
  }
})
