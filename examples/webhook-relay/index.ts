// A webhook relay: a plugin of its own, outside switchboard, on the plugin API only. It forwards the
// `message.created` events of chosen channels to a URL (a POST of the event as JSON), retries with
// backoff, and sends what the URL never took to the dead-letter topic `messages.dlq`. It runs in a
// consumer group of its own: a dead or slow URL holds its own events back, never the store, the
// cache or the recovery log.
import fp from 'fastify-plugin'
import { defineTopicHandler, topics } from '../../plugin-api.ts'

export interface WebhookRelayOptions {
  /** Where each event is POSTed, as JSON. */
  url: string
  /** The channels whose new messages are forwarded. */
  channels: readonly string[]
  /** Names the handler (logs, metrics, dead letters) and its consumer group; one per relay (default `webhook-relay`). */
  name?: string
  /** Attempts before the dead-letter topic (default 5). */
  attempts?: number
  /** Waits between attempts, in ms; the last repeats (default 500, 2000, 5000). */
  backoffMs?: readonly number[]
  /** How long one attempt may take (default 5000 ms): a URL that never answers fails the attempt. */
  timeoutMs?: number
}

export default fp<WebhookRelayOptions>(async function webhookRelay (app, opts) {
  const url = new URL(opts.url) // a malformed URL stops start-up, not the first delivery
  const channels = new Set(opts.channels)
  const name = opts.name ?? 'webhook-relay'
  const timeoutMs = opts.timeoutMs ?? 5000

  app.topicHandlers.add(defineTopicHandler({
    name,
    topic: topics.messages,
    mode: 'shared', // once per cluster, on a workers instance
    group: name, // its retries hold no other handler's batches
    maxAttempts: opts.attempts ?? 5,
    backoffMs: opts.backoffMs ?? [500, 2000, 5000],
    async handle (event, { position }) {
      if (event.type !== 'message.created' || !channels.has(event.channelId)) return
      let res: Response
      try {
        res = await fetch(url, {
          method: 'POST',
          // delivered at least once: the receiver drops a repeat by the message id (event.data.id)
          headers: { 'content-type': 'application/json', 'x-switchboard-position': `${position.epoch}/${position.offset}` },
          body: JSON.stringify(event),
          signal: AbortSignal.timeout(timeoutMs)
        })
      } catch (err) {
        const code = ((err as Error).cause as { code?: string } | undefined)?.code
        throw new Error(`could not reach ${url.origin}: ${code ?? (err as Error).message}`)
      }
      await res.body?.cancel() // the answer's body is not read: free the connection
      if (!res.ok) throw new Error(`${url.origin} answered ${res.status}`)
    }
  }))
}, { dependencies: ['topic-handlers'] })
