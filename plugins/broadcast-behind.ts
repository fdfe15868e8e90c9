// Broadcast consumers behind the log (issue 24). A broadcast consumer is this instance's delivery
// path: while it trails the log's end, its sockets stay open and receive nothing, silently. Behind
// means more than BROADCAST_MAX_LAG records still to handle on a partition, or records pending for
// BROADCAST_MAX_AGE_MS; then /ready fails naming the consumer, and /metrics shows it
// (switchboard_broadcast_behind, switchboard_broadcast_pending_seconds), until it catches up.
import fp from 'fastify-plugin'
import type { ConsumerLag } from './bus/index.ts'

/** One broadcast consumer as the last read of the log found it. */
export interface BroadcastStanding {
  consumer: string
  /** records still to handle, on its most lagging partition */
  lag: number
  /** how long records it has yet to handle have waited at least (0 when none is pending) */
  pendingMs: number
  behind: boolean
}

export interface BroadcastBehind {
  /** Where each broadcast consumer stands, from a read of the consumers' lag (bus.lag()). */
  assess (lags: readonly ConsumerLag[]): BroadcastStanding[]
}

declare module 'fastify' {
  interface FastifyInstance { broadcastBehind: BroadcastBehind }
}

export default fp(async function broadcastBehind (app) {
  const { BROADCAST_MAX_LAG: maxLag, BROADCAST_MAX_AGE_MS: maxAge } = app.config
  // Per group/topic/partition: the log's end when records were first seen pending, and when. The
  // records below that end existed then: while one of them is still pending, the oldest pending
  // record is at least that old (a lower bound, as fine as the reads are frequent).
  const pendingSince = new Map<string, { end: number, at: number }>()

  function assess (lags: readonly ConsumerLag[]): BroadcastStanding[] {
    const now = Date.now()
    const byConsumer = new Map<string, BroadcastStanding>()
    for (const l of lags) {
      if (l.mode !== 'broadcast') continue
      const key = `${l.group}/${l.topic}/${l.partition}`
      let pendingMs = 0
      if (l.lag <= 0) pendingSince.delete(key)
      else {
        const mark = pendingSince.get(key)
        // everything pending at the mark is handled: what is pending now came later
        if (!mark || l.next >= mark.end) pendingSince.set(key, { end: l.next + l.lag, at: now })
        else pendingMs = now - mark.at
      }
      const standing = byConsumer.get(l.consumer) ?? { consumer: l.consumer, lag: 0, pendingMs: 0, behind: false }
      standing.lag = Math.max(standing.lag, l.lag)
      standing.pendingMs = Math.max(standing.pendingMs, pendingMs)
      standing.behind = (maxLag > 0 && standing.lag > maxLag) || (maxAge > 0 && standing.pendingMs >= maxAge)
      byConsumer.set(l.consumer, standing)
    }
    return [...byConsumer.values()]
  }

  app.decorate('broadcastBehind', { assess } satisfies BroadcastBehind)
  const lag = app.bus.lag?.bind(app.bus)
  // broadcast consumers run with the fanout role (their handlers deliver to this instance's sockets)
  if (!lag || !app.roles.has('fanout') || (maxLag === 0 && maxAge === 0)) return
  app.readiness.add('broadcast', async () => {
    const behind = assess(await lag('broadcast')).filter((s) => s.behind)
    if (behind.length === 0) return
    throw new Error(behind.map((s) => `broadcast consumer ${s.consumer} is behind the log: ${s.lag} records to handle, pending for ${s.pendingMs} ms or more (BROADCAST_MAX_LAG ${maxLag}, BROADCAST_MAX_AGE_MS ${maxAge})`).join('; '))
  })
}, { name: 'broadcast-behind', dependencies: ['bus', 'readiness'] })
