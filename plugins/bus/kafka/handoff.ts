// The broadcast lane's hand-off: what this instance's producer appended goes to this instance's
// broadcast consumers of its topic at once, the moment the log acknowledged it (acks = all: it is
// in the log), instead of after their next fetch. The delivery path then waits for one Kafka round
// trip, not two. Each consumer's BroadcastLane (../broadcast-lane.ts) decides per partition what
// it takes, so records still go out in offset order and once.
import type { FastifyBaseLogger } from 'fastify'
import type { Message } from 'kafkajs'
import type { BroadcastLane } from '../broadcast-lane.ts'
import type { BusRecord } from '../bus.ts'
import type { TopicNames } from './client.ts'
import { groupIndexes } from './group-indexes.ts'

/** Where the log placed a produced record: its partition, offset and the partition's epoch. */
export interface Placed { partition: number, offset: string, epoch: string }

/** A record the producer appended to a (physical) topic. */
export interface Appended { topic: string, message: Message, placed: Placed }

export type Handoff = ReturnType<typeof createHandoff>

export function createHandoff (logger: FastifyBaseLogger, names: TopicNames) {
  // This instance's broadcast consumers, by the (physical) topics they read.
  const lanes = new Map<string, Set<BroadcastLane>>()

  /**
   * Only a partition's next records in order: when another instance appended records in between
   * that the consumer has not reached yet, its lane leaves them all to the fetch.
   */
  function offer (appended: Appended[]) {
    const byPartition = groupIndexes(appended, ({ topic, placed }) => `${topic}/${placed.partition}`)
    for (const of of byPartition.values()) {
      const first = appended[of[0]]
      const readers = lanes.get(first.topic)
      if (!readers) continue
      const records = of.map((j): BusRecord => {
        const { topic, message, placed } = appended[j]
        return { topic: names.logical(topic), partition: placed.partition, offset: placed.offset, epoch: placed.epoch, key: String(message.key), value: message.value as Buffer, timestamp: Number(message.timestamp ?? Date.now()) }
      })
      for (const lane of readers) lane.offer(`${first.topic}/${first.placed.partition}`, records)
    }
  }

  return {
    /** Whether a broadcast consumer ever read here: the producer skips the hand-off otherwise. */
    get wanted () { return lanes.size > 0 },
    /** A broadcast consumer's lane takes what is appended to these (physical) topics from now on. */
    join (topics: string[], lane: BroadcastLane) {
      for (const topic of topics) lanes.set(topic, (lanes.get(topic) ?? new Set()).add(lane))
    },
    leave (topics: string[], lane: BroadcastLane) {
      for (const topic of topics) lanes.get(topic)?.delete(lane)
    },
    /** Hands records the producer appended (one request's, in offset order per partition) to the lanes. */
    deliver (appended: Appended[]) {
      try {
        offer(appended)
      } catch (err) {
        // never the produce's failure: these records are in the log, and the fetch brings them
        logger.error({ err }, 'handing produced records to the broadcast consumers failed; they come by the fetch')
      }
    }
  }
}
