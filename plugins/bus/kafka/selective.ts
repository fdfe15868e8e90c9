// A selective broadcast consumer's reads (docs/scaling.md): only the partitions asked for (`read`),
// each resumed at the log's end as it is then; the rest stay paused, in kafkajs and in the lane,
// across joins and restarts (`skip`, `pauseUnread`). The consumer (consumer.ts) owns the join, the
// epoch and the run loop; this owns which partitions it reads now and from where.
import type { Consumer as KafkaConsumer } from 'kafkajs'
import type { BroadcastLane } from '../broadcast-lane.ts'
import type { ReadFrom } from '../bus.ts'
import type { ClusterAdmin } from './admin.ts'
import type { TopicNames } from './client.ts'
import { within } from './deadlines.ts'

/** A selective consumer's `read` that cannot learn the log's end by then fails (the subscribe is retried). */
const READ_TIMEOUT_MS = 5000

export interface SelectiveOptions {
  admin: ClusterAdmin
  names: TopicNames
  consumer: KafkaConsumer
  lane: BroadcastLane
  /** The consumer's place: topic/partition → next offset to read (a rejoin seeks there). */
  handled: Map<string, string>
  /** After a join on another cluster: topic/partition → the offset its next batch must start at. */
  expected: Map<string, string>
  /** Settles once the identity of the cluster last joined is known. */
  identity (): Promise<void>
  /** The partition's epoch in the cluster last joined. */
  epochOf (topic: string, partition: number): string
  stopping (): boolean
}

export type SelectiveReads = ReturnType<typeof createSelectiveReads>

export function createSelectiveReads (options: SelectiveOptions) {
  const { admin, names, consumer, lane, handled, expected } = options
  // topic/partition → where it reads from since it last resumed (the partitions read now)
  const reading = new Map<string, Promise<ReadFrom>>()
  const tickets = new Map<string, object>() // the `read` that may resume each partition (a skip cancels it)

  /**
   * Reads the partition from the log's end as it is now. Records at or after that offset are
   * fetched (the seek) or handed over by the producer (the lane); none before it is dispatched,
   * so a subscriber's window before it comes from the shared recovery log.
   */
  function read (logical: string, partition: number): Promise<ReadFrom> {
    const topic = names.physical(logical)
    const key = `${topic}/${partition}`
    const known = reading.get(key)
    if (known) return known
    const ticket = {}
    tickets.set(key, ticket)
    const started: Promise<ReadFrom> = within(READ_TIMEOUT_MS, 'reading a partition', (async () => {
      const offsets = await (await admin.get()).fetchTopicOffsets(topic)
      const end = offsets.find((o) => o.partition === partition)
      if (!end) throw new Error(`no partition ${partition} in ${topic}`)
      await options.identity() // the epoch of the cluster last joined
      const from = { epoch: options.epochOf(topic, partition), offset: end.high }
      // skipped meanwhile (its last socket left): stays paused
      if (tickets.get(key) !== ticket || options.stopping()) return from
      handled.set(key, from.offset) // a rejoin seeks here, not back to where the consumer began
      expected.delete(key)
      consumer.seek({ topic, partition, offset: from.offset })
      lane.resume(key, from.epoch, from.offset)
      consumer.resume([{ topic, partitions: [partition] }])
      return from
    })())
    reading.set(key, started)
    started.catch(() => { if (tickets.get(key) === ticket) skip(logical, partition) })
    return started
  }

  /** Stops reading the partition; where it stands is read again on the next `read`. */
  function skip (logical: string, partition: number) {
    const topic = names.physical(logical)
    const key = `${topic}/${partition}`
    reading.delete(key)
    tickets.delete(key)
    if (options.stopping()) return
    consumer.pause([{ topic, partitions: [partition] }])
    lane.pause(key, options.epochOf(topic, partition))
  }

  /**
   * On a join, before the first fetch: pauses the (physical) partition unless it is read (a restart
   * makes a new kafkajs group, which forgot the pauses).
   */
  function pauseUnread (topic: string, partition: number) {
    if (reading.has(`${topic}/${partition}`)) return
    consumer.pause([{ topic, partitions: [partition] }])
    lane.pause(`${topic}/${partition}`, undefined)
  }

  return { read, skip, pauseUnread }
}
