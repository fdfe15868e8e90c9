// Which partitions of `messages` this instance's fanout reads (FANOUT_SELECTIVE, docs/scaling.md):
// those holding a channel one of its sockets subscribes to. A channel's first subscribe on a
// partition resumes it at the log's end (the recovery plugin asks here before it looks for the
// window: what came before comes from the shared recovery log); the last socket of a partition
// leaving (unsubscribe, disconnect) pauses it again. Without it, every instance reads everything.
import fp from 'fastify-plugin'
import type { Connection } from '../fanout/hub.ts'
import type { Consumer, ReadFrom } from './bus/index.ts'
import { isStatusChannel } from '../schemas/channel-kinds.ts'
import { topics } from '../schemas/topics.ts'

/** Counters read by /metrics and tests: partitions read now, and how often one was resumed or paused. */
export interface FanoutReadStats { readonly reading: number, readonly resumed: number, readonly paused: number }

export interface FanoutReads {
  /** True when this instance reads only the partitions its sockets need. */
  readonly selective: boolean
  /** The selective broadcast consumer of `messages` (topic-handlers.ts hands it over once it runs). */
  attach (consumer: Consumer): void
  /**
   * `conn` subscribes to `channel`: its partition is read from now on, while the subscribe or the
   * subscription lasts. Resolves with where the partition is read from (undefined: not selective,
   * or a channel no message reaches).
   */
  want (conn: Connection, channel: string): Promise<ReadFrom | undefined>
  readonly stats: FanoutReadStats
}

declare module 'fastify' {
  interface FastifyInstance { fanoutReads: FanoutReads }
}

export default fp(async function fanoutReads (app) {
  const { hub } = app.fanout
  const selective = app.config.FANOUT_SELECTIVE && app.bus.selective === true && app.roles.has('fanout')
  const topic = topics.messages.name
  let consumer: Consumer | undefined
  /** partition → the (connection, channel) holds on it */
  const holds = new Map<number, Set<string>>()
  /** connection → channel → partition, to release what a connection held */
  const byConn = new Map<string, Map<string, number>>()
  const counts = { resumed: 0, paused: 0 }

  function release (connId: string, channel: string) {
    const held = byConn.get(connId)
    const partition = held?.get(channel)
    if (partition === undefined) return
    held!.delete(channel)
    if (held!.size === 0) byConn.delete(connId)
    const set = holds.get(partition)
    if (!set?.delete(`${connId}\u0000${channel}`) || set.size > 0) return
    holds.delete(partition)
    counts.paused++
    consumer?.skip?.(topic, partition)
  }

  async function want (conn: Connection, channel: string): Promise<ReadFrom | undefined> {
    // status channels get no message events (the server API refuses them): they hold nothing
    if (!selective || !consumer?.read || isStatusChannel(channel)) return undefined
    const partition = await app.bus.partitionOf!(topic, channel)
    if (conn.ended) return undefined // gone meanwhile: its onDisconnect ran already, nothing to hold
    const held = byConn.get(conn.id) ?? new Map<string, number>()
    byConn.set(conn.id, held)
    held.set(channel, partition)
    let set = holds.get(partition)
    if (!set) {
      holds.set(partition, set = new Set())
      counts.resumed++
    }
    set.add(`${conn.id}\u0000${channel}`)
    try {
      return await consumer.read(topic, partition)
    } catch (err) {
      release(conn.id, channel)
      throw err
    }
  }

  if (selective) {
    hub.addHooks({
      onUnsubscribed: async (conn, channel) => { release(conn.id, channel) },
      // also the subscribes still in flight on it (they never went live)
      onDisconnect: async (conn) => { for (const channel of [...byConn.get(conn.id)?.keys() ?? []]) release(conn.id, channel) }
    }, 'fanout-reads')
  }

  app.decorate('fanoutReads', {
    selective,
    attach (c: Consumer) { consumer = c },
    want,
    stats: {
      get reading () { return holds.size },
      get resumed () { return counts.resumed },
      get paused () { return counts.paused }
    }
  } satisfies FanoutReads)
  if (app.config.FANOUT_SELECTIVE && app.bus.selective !== true) app.log.warn(`FANOUT_SELECTIVE is set but the ${app.bus.kind} bus reads every partition: ignored`)
  if (selective) app.log.info('selective fanout: this instance reads only the partitions of messages its sockets subscribe to')
}, { name: 'fanout-reads', dependencies: ['fanout', 'bus'] })
