// This instance's consumers, as the bus answers for them: which run (to stop them on close), what
// each group reads and has handled (its lag, for /metrics) and which kafkajs gave up on (readiness).
import type { Admin } from 'kafkajs'
import type { Consumer, ConsumerLag, DeliveryMode } from '../bus.ts'
import type { BroadcastLane } from '../broadcast-lane.ts'
import type { ClusterAdmin } from './admin.ts'
import type { TopicNames } from './client.ts'
import { settled } from './deadlines.ts'

/** A consumer group of this instance: its (physical) topics and, per topic/partition, where it stands. */
export interface GroupPlace {
  /** the consumer's spec: its name and delivery mode */
  name: string
  mode: DeliveryMode
  topics: string[]
  /** Broadcast: where the group started (nothing is ever committed). */
  start: Map<string, string>
  /** The next offset to read, once every handler is done (counted before the commit lands). */
  handled: Map<string, string>
  /** Broadcast: the lane that dispatches what the group reads. */
  lane?: BroadcastLane
}

export type ConsumerRegistry = ReturnType<typeof createRegistry>

export function createRegistry () {
  const running = new Set<Consumer>()
  const groups = new Map<string, GroupPlace>()
  const dead = new Set<string>() // groups whose consumer kafkajs gave up on

  return {
    add (consumer: Consumer, groupId: string, place: GroupPlace) {
      running.add(consumer)
      groups.set(groupId, place)
    },
    /** The consumer stops: it no longer runs and its group has no lag to report. */
    remove (consumer: Consumer, groupId: string) {
      running.delete(consumer)
      groups.delete(groupId)
    },
    /** Where a broadcast group's lane first read the partition `epoch` (see BroadcastLane.firstOffset). */
    firstOffset (groupId: string, epoch: string): string | undefined {
      return groups.get(groupId)?.lane?.firstOffset(epoch)
    },
    /** kafkajs stopped this group's consumer for good. */
    died (groupId: string) { dead.add(groupId) },
    /** Throws when a consumer stopped for good: the instance is not ready. */
    assertAlive () {
      if (dead.size) throw new Error(`Kafka consumer stopped for good: ${[...dead].join(', ')}`)
    },
    stopAll (): Promise<void[]> {
      return Promise.all([...running].map((c) => c.stop()))
    },

    /** `only`: the groups of one delivery mode (the readiness check reads the broadcast ones alone). */
    async lag (admin: ClusterAdmin, names: TopicNames, closed: () => boolean, only?: DeliveryMode): Promise<ConsumerLag[]> {
      const a = await admin.get()
      const read = [...groups].filter(([, place]) => !only || place.mode === only)
      const ends = new Map<string, Awaited<ReturnType<Admin['fetchTopicOffsets']>>>()
      for (const [, { topics }] of read) for (const topic of topics) if (!ends.has(topic)) ends.set(topic, await settled(() => a.fetchTopicOffsets(topic), closed))
      const lags: ConsumerLag[] = []
      for (const [group, { name, mode, topics, start, handled, lane }] of read) {
        // a broadcast group never commits: where it stands is what it handled
        const committedByTopic = mode === 'broadcast' ? [] : await a.fetchOffsets({ groupId: group, topics })
        for (const topic of topics) {
          for (const end of ends.get(topic) ?? []) {
            // a partition a selective consumer does not read has nothing to catch up with
            if (lane && !lane.reads(`${topic}/${end.partition}`)) continue
            const committed = committedByTopic.find((c) => c.topic === topic)
            // what this instance handled counts at once, also before the commit lands
            const stored = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1'
            const local = handled.get(`${topic}/${end.partition}`)
            const done = local !== undefined && Number(local) > Number(stored) ? local : stored
            // nothing committed yet: from where a broadcast group started, else the partition's start
            const from = done !== '-1' ? done : start.get(`${topic}/${end.partition}`) ?? end.low
            lags.push({ group, consumer: name, mode, topic: names.logical(topic), partition: end.partition, next: Number(from), lag: Math.max(0, Number(end.high) - Number(from)) })
          }
        }
      }
      return lags
    }
  }
}
