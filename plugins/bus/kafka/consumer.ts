// One consumer of the bus: a kafkajs consumer in a cluster-wide group (`shared`) or in a group of
// this instance alone (`broadcast`). Where its parts live, for the work that changes them:
// - the group join (`onJoin`): where a broadcast consumer seeks, and where its lane starts;
// - the epoch of what it reads (`cluster`, read again on every join; epochOf in admin.ts);
// - the run loop (`eachBatch`): records to the handlers, offsets resolved once they are done;
// - the broadcast lane: fetched records and those this instance's producer handed over
//   (handoff.ts) share one dispatch per partition (../broadcast-lane.ts);
// - a crash kafkajs gives up on (`CRASH`): the registry marks the group dead, readiness fails;
// - a selective broadcast consumer (`read`, `skip`): which partitions it reads, in selective.ts;
// - its kafkajs settings (session, fetch waits, restarts on failure): consumer-settings.ts.
import type { FastifyBaseLogger } from 'fastify'
import type { Batch, Kafka } from 'kafkajs'
import { lingerConsumerGroup } from '../kafkajs-patches.ts'
import { BroadcastLane, type BroadcastTaken } from '../broadcast-lane.ts'
import { batchHandler, topicsOf, type BatchControl, type BusRecord, type Consumer, type ConsumerSpec } from '../bus.ts'
import { epochOf, type ClusterAdmin } from './admin.ts'
import type { TopicNames, Unavailable } from './client.ts'
import { groupConsumer } from './consumer-settings.ts'
import { settled, within } from './deadlines.ts'
import type { Handoff } from './handoff.ts'
import type { ConsumerRegistry } from './registry.ts'
import { createSelectiveReads } from './selective.ts'

const JOIN_TIMEOUT_MS = 60_000

export interface ConsumerOptions {
  logger: FastifyBaseLogger
  admin: ClusterAdmin
  handoff: Handoff
  registry: ConsumerRegistry
  names: TopicNames
  unavailable: Unavailable
  /** Counts what broadcast consumers took, by how it came (shared by all of the bus's lanes). */
  taken: BroadcastTaken
  prefix: string
  instanceId: string
  /** Partitions read at once: one per partition of a topic. */
  partitions: number
  /** A busy shared consumer's consume linger (kafkajs-patches.ts). */
  consumeLingerMs: number
  /** True once the bus closed: no consumer starts. */
  closed (): boolean
}

/** Starts a consumer; resolves once it joined its group (a broadcast one reads from the log's end as it is now). */
export async function startConsumer (kafka: Kafka, options: ConsumerOptions, spec: ConsumerSpec): Promise<Consumer> {
  const { admin, handoff, registry, names, unavailable } = options
  if (options.closed()) throw new Error('event bus is closed')
  const topics = topicsOf(spec).map(names.physical)
  const groupId = spec.mode === 'shared' ? `${options.prefix}${spec.name}` : `${options.prefix}${spec.name}.${options.instanceId}`
  const log = options.logger.child({ group: groupId, topics: topicsOf(spec) })
  let cluster = await admin.clusterId()
  // A broadcast consumer starts at the end of the log as it is now, before `consume` resolves:
  // the first assignment seeks there, so every record produced after `consume` is seen.
  const ends = new Map<string, Array<{ partition: number, offset: string }>>()
  if (spec.mode === 'broadcast') for (const topic of topics) ends.set(topic, await settled(async () => (await admin.get()).fetchTopicOffsets(topic), options.closed))

  const handleBatch = batchHandler(spec)
  const broadcast = spec.mode === 'broadcast'
  const selective = broadcast && spec.selective === true
  let stopping = false
  const consumer = groupConsumer(kafka, groupId, { selective, stopping: () => stopping, log })
  // The delivery path (broadcast) fetches each record the moment it is there; the shared
  // handlers (store, cache, recovery log, mentions) take a busy log in larger batches.
  const unlinger = broadcast ? () => {} : lingerConsumerGroup(groupId, spec.lingerMs ?? options.consumeLingerMs)
  // topic/partition → next offset to read, once every handler is done (lag counts it before the commit lands)
  const handled = new Map<string, string>()
  // Broadcast: fetched records and those this instance appended share one dispatch per partition.
  const lane = broadcast
    ? new BroadcastLane({
      dispatch: handleBatch,
      producerControl: { get revoked () { return stopping }, heartbeat: async () => {} },
      taken: options.taken,
      done: (partitionKey, next) => { handled.set(partitionKey, next) },
      failed: (err, records) => { if (!stopping) log.error({ err, topic: records[0].topic, partition: records[0].partition, offset: records[0].offset }, 'topic handler threw on records this instance produced') }
    })
    : undefined
  let joined!: () => void
  let failed!: (err: Error) => void
  const ready = new Promise<void>((resolve, reject) => { joined = resolve; failed = reject })
  let first = true

  // The cluster at this address may be another one after a join (re-created or wiped at the same
  // address): its identity is read again on every join, and no batch is handled before it is known,
  // so no record is ever read in the wrong epoch.
  let identity: Promise<void> = Promise.resolve()
  // broadcast, after a join on another cluster: topic/partition → the offset its next batch must start at
  const expected = new Map<string, string>()
  const selectiveReads = selective
    ? createSelectiveReads({ admin, names, consumer, lane: lane!, handled, expected, identity: () => identity, epochOf: (topic, partition) => epochOf(cluster, topic, partition), stopping: () => stopping })
    : undefined

  /** Called synchronously after each join (the first, a rebalance, a restart), before the first fetch. */
  function onJoin () {
    // kafkajs's stop() misses a restart that is joining at that moment: stop it once it has joined
    if (stopping) { consumer.disconnect().catch(() => {}); return }
    if (broadcast) {
      // This instance's own group owns every partition: it resumes exactly after what it handled
      // (or where it started), on the first join and after a restart alike. No offset is ever
      // committed (no commit request per batch on the delivery path), and a restart can neither
      // skip ahead to the latest offset (a gap) nor fall back (duplicates the hub would drop).
      // A selective one pauses, before the first fetch, every partition it does not read (a restart
      // makes a new kafkajs group, which forgot them).
      for (const [topic, offsets] of ends) {
        for (const { partition, offset } of offsets) {
          selectiveReads?.pauseUnread(topic, partition)
          seek(topic, partition, handled.get(`${topic}/${partition}`) ?? offset)
        }
      }
    } else {
      // Shared: rebalances and restarts resume from the committed offsets (a new cluster has none:
      // from the beginning); what an earlier assignment handled says nothing about the partitions held now.
      handled.clear()
    }
    first = false
    joined()
    admin.forgetCluster()
    identity = settled(() => admin.clusterId(), () => stopping || options.closed()).then(async (id) => {
      if (id === cluster || stopping) return
      cluster = id
      if (broadcast) await readFromStart()
    }).catch((err) => {
      // the cluster could not be asked (it went away again, or the consumer is stopping): the next
      // join asks again; meanwhile records keep the identity last read
      if (!stopping && !options.closed()) log.warn({ err }, 'could not read the Kafka cluster\'s identity after a join; keeping the last one')
    })
  }

  function seek (topic: string, partition: number, offset: string) {
    consumer.seek({ topic, partition, offset })
    lane!.start(`${topic}/${partition}`, epochOf(cluster, topic, partition), offset)
  }

  /**
   * A broadcast consumer joined another cluster than the one it read: everything in that log is new
   * to it, so it reads every partition from its start, in the new epoch (subscribers holding
   * positions of the old one are answered `recovered: false`). Batches fetched before this seek
   * (from where kafkajs put the out-of-range old offset) are skipped.
   */
  async function readFromStart () {
    log.warn({ cluster }, 'Kafka is another cluster than before (re-created at the same address): reading every partition from its start, in a new epoch')
    handled.clear()
    for (const topic of ends.keys()) {
      const offsets = await settled(async () => (await admin.get()).fetchTopicOffsets(topic), () => stopping || options.closed())
      ends.set(topic, offsets.map(({ partition, low }) => ({ partition, offset: low })))
      for (const { partition, low } of offsets) {
        expected.set(`${topic}/${partition}`, low)
        seek(topic, partition, low)
      }
    }
  }

  /** A fetched batch as bus records, in the epoch of the cluster last joined. */
  function toRecords ({ topic, partition, messages }: Batch): BusRecord[] {
    const epoch = epochOf(cluster, topic, partition)
    return messages.map((message) => ({
      topic: names.logical(topic),
      partition,
      offset: message.offset,
      epoch,
      key: message.key?.toString('utf8') ?? '',
      value: message.value ?? Buffer.alloc(0),
      timestamp: Number(message.timestamp)
    }))
  }

  consumer.on(consumer.events.GROUP_JOIN, onJoin)
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart) return
    // kafkajs gives up on errors it deems permanent: say so loudly and fail readiness, so the
    // instance is restarted rather than left with a handler that silently stopped.
    failed(payload.error)
    if (!stopping && !first) {
      registry.died(groupId)
      log.fatal({ err: payload.error }, 'Kafka consumer stopped for good; this instance is no longer ready')
      spec.onDead?.(payload.error)
    }
  })

  const handle: Consumer = {
    ...(selectiveReads ? { read: selectiveReads.read, skip: selectiveReads.skip } : {}),
    async stop () {
      if (stopping) return
      stopping = true
      registry.remove(handle, groupId)
      if (lane) handoff.leave(topics, lane)
      unlinger()
      await consumer.disconnect().catch((err) => log.warn({ err }, 'Kafka consumer did not disconnect cleanly'))
      // A broadcast group belongs to this run of this instance: remove it (it is empty now).
      if (spec.mode === 'broadcast') await admin.get().then((a) => a.deleteGroups([groupId])).catch(() => {})
    }
  }

  try {
    await consumer.connect()
    await consumer.subscribe({ topics, fromBeginning: spec.mode === 'shared' })
    await consumer.run({
      partitionsConsumedConcurrently: options.partitions,
      eachBatchAutoResolve: false,
      autoCommit: !broadcast,
      // The run loop: one partition's fetched records at a time.
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (batch.messages.length === 0 || isStale()) return
        const { topic, partition } = batch
        await identity
        const from = expected.get(`${topic}/${partition}`)
        if (from !== undefined) {
          if (batch.messages[0].offset !== from) return // fetched before the seek to the new log's start
          expected.delete(`${topic}/${partition}`)
        }
        const records = toRecords(batch)
        // The handler asks before each write whether it still owns the partition, and heartbeats
        // while it waits (kafkajs rejects the heartbeat once a rebalance started: it stops there).
        const control: BatchControl = { get revoked () { return stopping || !isRunning() || isStale() }, heartbeat }
        try {
          // a broadcast lane skips what the producer handed it already, and keeps `handled` itself
          if (lane) await lane.fetched(`${topic}/${partition}`, records, control)
          else await handleBatch(records, control)
        } catch (err) {
          // Unresolved, so not committed: delivered again to whoever owns the partition next.
          if (!stopping && !control.revoked) log.error({ err, topic: records[0].topic, partition, offset: records[0].offset }, 'topic handler threw; the batch will be redelivered')
          throw err
        }
        // Every handler is done with these: kafkajs commits them after the batch, also when
        // stopping (shared groups; a commit from a member that lost the partition is refused by
        // the broker). A broadcast consumer keeps its place in `handled` instead.
        if (isStale()) return
        const last = records[records.length - 1].offset
        resolveOffset(last)
        if (!lane) handled.set(`${topic}/${partition}`, (BigInt(last) + 1n).toString())
      }
    })
    registry.add(handle, groupId, { name: spec.name, mode: spec.mode, topics, start: new Map([...ends].flatMap(([topic, offsets]) => offsets.map((e) => [`${topic}/${e.partition}`, e.offset]))), handled, lane })
    if (lane) handoff.join(topics, lane)
    await within(JOIN_TIMEOUT_MS, 'joining the group', ready)
  } catch (err) {
    await handle.stop()
    throw unavailable(`joining consumer group ${groupId}`, err)
  }
  return handle
}
