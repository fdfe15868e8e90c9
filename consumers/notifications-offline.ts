// A notification for a user with no live connection anywhere in the cluster also goes to
// `notifications.offline`, for a push sender outside switchboard (FCM, APNs, WebPush). At least
// once: a redelivered notification is pushed again with the same `data.id`, which the sender uses
// to deduplicate. Online users get none: their connections receive it on `user:<id>`.
import { topics } from '../schemas/topics.ts'
import { defineTopicHandler } from '../plugins/topic-handlers.ts'
import { TransientError } from '../plugins/external/errors.ts'

export default defineTopicHandler({
  name: 'notifications-offline',
  topic: topics.notifications,
  mode: 'shared',
  async handle (event, { app }) {
    const [status] = await app.connections.statuses([event.userId])
    if (status.status === 'online') return
    try {
      await app.events.produce('notifications.offline', event.userId, event)
    } catch (err) {
      // The log is down: wait for it (retried without limit), the notification stays in hand.
      throw new TransientError(`could not produce the offline notification of ${event.userId}: ${(err as Error).message}`, { cause: err })
    }
  }
})
