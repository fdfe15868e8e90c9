// The event bus on Apache Kafka (kafkajs): an idempotent producer (acks = all) and one consumer per
// topic handler, in a cluster-wide group (`shared`) or a group of this instance alone (`broadcast`).
import { setTimeout as wait } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { Kafka, Partitioners, logLevel, type Admin, type ISocketFactory, type LogEntry, type Producer, type Message, type PartitionMetadata } from 'kafkajs'
import { lingerConsumerGroup } from './kafkajs-patches.ts'
import { TransientError } from '../errors.ts'
import { createBatcher, ItemFailure } from './batching.ts'
import { BroadcastLane, type BroadcastTaken } from './broadcast-lane.ts'
import { batchHandler, topicsOf, type BatchControl, type BusOptions, type BusRecord, type Consumer, type ConsumerLag, type ConsumerSpec, type EventBus, type ProduceResult } from './bus.ts'

export interface KafkaBusOptions extends BusOptions {
  brokers: string[]
  clientId: string
  logger: FastifyBaseLogger
  /** Under load, how long a produce waits for others to share its request (KAFKA_LINGER_MS; batching.ts). */
  lingerMs?: number
  /**
   * How long a busy shared consumer lets records gather at the broker before its next fetch
   * answers (KAFKA_CONSUME_LINGER_MS; kafkajs-patches.ts). Broadcast consumers never linger.
   */
  consumeLingerMs?: number
  /** Replaces kafkajs's socket factory (tests route connections through a proxy they can cut). */
  socketFactory?: ISocketFactory
}

/** A produce that has no answer by then is failed (503): a request never hangs on a dead broker. */
const PRODUCE_TIMEOUT_MS = 4000
const PING_TIMEOUT_MS = 2000
const SESSION_TIMEOUT_MS = 10_000
const HEARTBEAT_INTERVAL_MS = 1000
/** How long an empty fetch waits at the broker: well under the session timeout (heartbeats go between fetches). */
const IDLE_FETCH_WAIT_MS = 3000
const JOIN_TIMEOUT_MS = 60_000
const RETRIED = new Set(['Connection', 'BrokerPool'])

/** An operation with no answer by its deadline: whether it took effect is unknown. */
class Timeout extends Error {}

export function createKafkaBus (options: KafkaBusOptions): EventBus {
  const { logger, topicPrefix: prefix } = options
  const where = `Kafka at ${options.brokers.join(',')}`
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 1500,
    requestTimeout: 5000,
    retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 5 },
    ...(options.socketFactory ? { socketFactory: options.socketFactory } : {}),
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => log(entry)
  })

  function log ({ namespace, level, log: { message, timestamp: _t, logger: _l, ...extra } }: LogEntry) {
    // Said once per producer: we do limit retries on purpose (see getProducer).
    if (message.startsWith('Limiting retries for the idempotent producer')) return
    const fields = { kafka: namespace, ...extra }
    // Connection errors are retried (and repeat for as long as an outage lasts): warnings.
    if (level === logLevel.ERROR && !RETRIED.has(namespace)) logger.error(fields, message)
    else if (level <= logLevel.WARN) logger.warn(fields, message)
    else logger.debug(fields, message)
  }

  let closed = false
  const running = new Set<Consumer>()
  // this instance's consumer groups → their (physical) topic and, for broadcast, where they started
  const groups = new Map<string, { topics: string[], start: Map<string, string>, handled: Map<string, string> }>()
  const dead = new Set<string>() // groups whose consumer kafkajs gave up on
  // This instance's broadcast consumers, by the (physical) topics they read: what the producer
  // appended is handed to them at once (deliverProduced).
  const lanes = new Map<string, Set<BroadcastLane>>()
  const broadcastTaken: BroadcastTaken = { fetch: 0, producer: 0 }
  const physical = (topic: string) => `${prefix}${topic}`
  const logical = (topic: string) => topic.startsWith(prefix) ? topic.slice(prefix.length) : topic
  const unavailable = (what: string, err: unknown) =>
    new TransientError(`${where} unavailable: ${what} failed (${(err as Error)?.message ?? err})`, { cause: err })

  /** Rejects after `ms`; the operation itself is not cancelled, so callers reset what it used. */
  async function within<T> (ms: number, what: string, op: Promise<T>): Promise<T> {
    // A plain timer, not an aborted timers/promises wait: that allocates an AbortError (a
    // DOMException with a stack) per call, 3 % of the server's CPU at 1,000 produces/s.
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Timeout(`${what}: no answer within ${ms} ms`)), ms) })
    try {
      return await Promise.race([op, deadline])
    } finally {
      clearTimeout(timer)
      op.catch(() => {}) // a late rejection of the abandoned operation is not unhandled
    }
  }

  /** Retries an admin call that kafkajs gives up on at once, e.g. a partition whose new leader is
   *  not known everywhere yet (NOT_LEADER_FOR_PARTITION just after a topic is created). */
  async function settled<T> (op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op()
      } catch (err) {
        if (!retriable(err) || attempt >= 10 || closed) throw err
        await wait(100 * attempt)
      }
    }
  }

  // One admin client for metadata, topic creation, offsets and readiness; reconnected after failures.
  let admin: Promise<Admin> | undefined
  function getAdmin (): Promise<Admin> {
    if (!admin) {
      const a = kafka.admin({ retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } })
      admin = a.connect().then(() => a)
      admin.catch(() => { admin = undefined; a.disconnect().catch(() => {}) })
    }
    return admin
  }

  // The epoch names a partition's history: the cluster's id (new when a cluster is re-created or
  // wiped), the topic and the partition. kafkajs speaks no Metadata version that returns topic ids.
  let clusterId: Promise<string> | undefined
  function getClusterId (): Promise<string> {
    if (!clusterId) {
      clusterId = getAdmin().then((a) => a.describeCluster()).then((c) => c.clusterId)
      clusterId.catch(() => { clusterId = undefined })
    }
    return clusterId
  }
  const epochOf = (cluster: string, topic: string, partition: number) => `${cluster}/${topic}/${partition}`

  // A failed or timed-out send discards the producer: a fresh one gets a new producer id and
  // sequence numbers, and reconnects once the cluster is back.
  let producer: Promise<Producer> | undefined
  function getProducer (): Promise<Producer> {
    if (!producer) {
      const p = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner, // sendBatch names each message's partition
        // Bounded, so a request fails with a 503 instead of waiting for the broker; idempotence
        // still removes duplicates of the retries made.
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 }
      })
      // a (re)connected producer may face another cluster at the same address: read its identity again
      const ready = p.connect().then(() => { clusterId = undefined; return p })
      producer = ready
      ready.catch(() => resetProducer(ready))
    }
    return producer
  }
  function resetAdmin (which: Promise<Admin> | undefined) {
    if (!which || admin !== which) return
    admin = undefined
    which.then((a) => a.disconnect()).catch(() => {})
  }
  function resetProducer (which: Promise<Producer>) {
    if (producer !== which) return
    producer = undefined
    clusterId = undefined
    which.then((p) => p.disconnect()).catch(() => {})
  }

  async function ensureTopics (names: string[]) {
    try {
      await createMissing(names)
    } catch (err) {
      throw unavailable('creating topics', err)
    }
  }

  async function createMissing (names: string[]) {
    const a = await getAdmin()
    const existing = new Set(await a.listTopics())
    const missing = [...new Set(names.map(physical))].filter((t) => !existing.has(t))
    if (missing.length === 0) return
    // Three copies where the cluster has three brokers, fewer on a smaller (development) cluster.
    const { brokers } = await a.describeCluster()
    const replicationFactor = Math.min(3, brokers.length)
    try {
      await a.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: options.partitions, replicationFactor, configEntries: topicConfig(replicationFactor) })), waitForLeaders: false, timeout: 10_000 })
    } catch (err) {
      // another instance created some of them at the same time
      const errors = (err as { errors?: Array<{ type?: string }> }).errors
      if (!errors?.every((e) => e.type === 'TOPIC_ALREADY_EXISTS')) throw err
    }
    // The broker answers before every broker's metadata knows the new topics (KRaft propagates it
    // asynchronously; kafkajs's waitForLeaders gives up on UNKNOWN_TOPIC_OR_PARTITION): wait here
    // until each partition has a leader, so the first produce or consume finds them.
    await settled(async () => {
      const { topics } = await a.fetchTopicMetadata({ topics: missing })
      const leaderless = topics.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0))
      if (leaderless.length) throw Object.assign(new Error(`no leader yet for ${leaderless.map((t) => t.name).join(', ')}`), { retriable: true })
    })
    logger.info({ topics: missing, partitions: options.partitions, replicationFactor }, 'created Kafka topics')
  }

  // Where each message goes is decided here, before kafkajs sees it: the default partitioner
  // (murmur2 of the key, as Java's) over the topic's partitions, which are grouped by leader
  // broker. One sendBatch per leader means one produce request per broker, each answered on its
  // own: a broker that fails fails only its own messages (kafkajs would reject the whole batch,
  // also the messages other brokers appended, and their retries would duplicate them).
  const partitioner = Partitioners.DefaultPartitioner()
  const META_MAX_AGE_MS = 60_000
  let metadata: { at: number, topics: Map<string, PartitionMetadata[]> } = { at: 0, topics: new Map() }
  async function partitionsOf (topics: string[]): Promise<Map<string, PartitionMetadata[]>> {
    if (Date.now() - metadata.at > META_MAX_AGE_MS) metadata = { at: Date.now(), topics: new Map() }
    const missing = topics.filter((t) => !metadata.topics.has(t))
    if (missing.length) {
      const { topics: fetched } = await (await getAdmin()).fetchTopicMetadata({ topics: missing })
      for (const { name, partitions } of fetched) {
        if (partitions.length === 0) throw new Error(`no partitions known for ${name}`)
        metadata.topics.set(name, [...partitions].sort((a, b) => a.partitionId - b.partitionId))
      }
    }
    return metadata.topics
  }

  interface Outgoing { topic: string, message: Message }
  interface Placed { partition: number, offset: string, epoch: string }
  type Outcome = Placed | ItemFailure

  /**
   * The messages queued while the previous request was in flight, one produce request (acks = all)
   * per leader broker. A request the broker refused (or that failed before reaching it) left
   * kafkajs's sequence numbers as they were, so the same producer sends each of its partitions
   * again alone: a partition the broker had appended is answered as a duplicate with its first
   * offsets (idempotence), one it refused fails alone. Only a request with no answer at all (the
   * deadline) fails its messages unknown.
   */
  async function sendBatch (items: Outgoing[]): Promise<Outcome[]> {
    const current = getProducer()
    const until = Date.now() + PRODUCE_TIMEOUT_MS
    const left = () => Math.max(1, until - Date.now())
    const outcomes: Outcome[] = new Array(items.length)
    let failed = false
    try {
      // one deadline for connecting (after an outage), the metadata and the requests
      const [p, cluster, partitions] = await within(left(), 'produce', Promise.all([current, getClusterId(), partitionsOf([...new Set(items.map((i) => i.topic))])]))
      const byLeader = groupIndexes(items, ({ topic, message }) => {
        const partitionMetadata = partitions.get(topic)!
        message.partition = partitioner({ topic, partitionMetadata, message })
        return partitionMetadata.find((m) => m.partitionId === message.partition)?.leader ?? -1
      })

      /** One sendBatch of these items: their places, in order. */
      const request = async (indexes: number[]) => {
        const byTopic = groupIndexes(indexes, (i) => items[i].topic)
        const topicMessages = [...byTopic].map(([topic, of]) => ({ topic, messages: of.map((j) => items[indexes[j]].message) }))
        const metas = await within(left(), 'produce', p.sendBatch({ acks: -1, topicMessages }))
        const next = new Map<string, bigint>()
        for (const meta of metas) {
          const base = meta.baseOffset ?? meta.offset
          if (base === undefined) throw new Error('the broker returned no offset')
          next.set(`${meta.topicName}/${meta.partition}`, BigInt(base))
        }
        for (const i of indexes) {
          const { topic, message: { partition } } = items[i]
          const key = `${topic}/${partition}`
          const offset = next.get(key)
          if (partition === undefined || offset === undefined) throw new Error(`the broker did not answer for ${key}`)
          next.set(key, offset + 1n)
          outcomes[i] = { partition, offset: offset.toString(), epoch: epochOf(cluster, topic, partition) }
        }
        if (lanes.size) deliverProduced(indexes.map((i) => ({ topic: items[i].topic, message: items[i].message, placed: outcomes[i] as Placed })))
      }
      const fail = (indexes: number[], err: unknown) => { failed = true; for (const i of indexes) outcomes[i] = new ItemFailure(err) }

      await Promise.all([...byLeader.values()].map(async (indexes) => {
        try {
          await request(indexes)
        } catch (err) {
          if (err instanceof Timeout) return fail(indexes, err)
          const byPartition = groupIndexes(indexes, (i) => `${items[i].topic}/${items[i].message.partition}`)
          if (byPartition.size === 1) return fail(indexes, err)
          for (const of of byPartition.values()) {
            const alone = of.map((j) => indexes[j])
            await request(alone).catch((e: unknown) => fail(alone, e))
          }
        }
      }))
      return outcomes
    } catch (err) {
      failed = true
      throw err
    } finally {
      // a fresh producer (new id, sequence numbers from 0) after any failure, once every request settled
      if (failed) { resetProducer(current); metadata = { at: 0, topics: new Map() } }
    }
  }
  // Concurrent produces share one request (see batching.ts): the idempotent producer sends one at a time.
  const send = createBatcher(sendBatch, { maxBatch: 500, maxWaitMs: PRODUCE_TIMEOUT_MS, lingerMs: options.lingerMs ?? 0 })

  /**
   * Hands what the producer appended (acks = all: it is in the log) to this instance's broadcast
   * consumers of its topic at once, instead of after their next fetch: the delivery path then waits
   * for one Kafka round trip, not two. Only a partition's next records in order: when another
   * instance appended records in between that the consumer has not reached yet, it leaves them all
   * to the fetch, so a channel's events still go out in offset order and once.
   */
  function deliverProduced (appended: Array<{ topic: string, message: Message, placed: Placed }>) {
    try {
      offerProduced(appended)
    } catch (err) {
      // never the produce's failure: these records are in the log, and the fetch brings them
      logger.error({ err }, 'handing produced records to the broadcast consumers failed; they come by the fetch')
    }
  }
  function offerProduced (appended: Array<{ topic: string, message: Message, placed: Placed }>) {
    const byPartition = groupIndexes(appended, ({ topic, placed }) => `${topic}/${placed.partition}`)
    for (const of of byPartition.values()) {
      const first = appended[of[0]]
      const readers = lanes.get(first.topic)
      if (!readers) continue
      const records = of.map((j): BusRecord => {
        const { topic, message, placed } = appended[j]
        return { topic: logical(topic), partition: placed.partition, offset: placed.offset, epoch: placed.epoch, key: String(message.key), value: message.value as Buffer, timestamp: Number(message.timestamp ?? Date.now()) }
      })
      for (const lane of readers) lane.offer(`${first.topic}/${first.placed.partition}`, records)
    }
  }

  async function produce (topic: string, key: string, value: string | Buffer): Promise<ProduceResult> {
    if (closed) throw new Error('event bus is closed')
    try {
      // encoded once: kafkajs writes these bytes, and a broadcast lane hands the same Buffer on
      const { partition, offset, epoch } = await send({ topic: physical(topic), message: { key, value: typeof value === 'string' ? Buffer.from(value) : value } })
      return { topic, partition, offset, epoch }
    } catch (err) {
      if (closed) throw new Error('event bus is closed')
      throw unavailable(`producing to ${topic}`, err)
    }
  }

  async function consume (spec: ConsumerSpec): Promise<Consumer> {
    if (closed) throw new Error('event bus is closed')
    const topics = topicsOf(spec).map(physical)
    const groupId = spec.mode === 'shared' ? `${prefix}${spec.name}` : `${prefix}${spec.name}.${options.instanceId}`
    const log = logger.child({ group: groupId, topics: topicsOf(spec) })
    let cluster = await getClusterId()
    // A broadcast consumer starts at the end of the log as it is now, before `consume` resolves:
    // the first assignment seeks there, so every record produced after `consume` is seen.
    const ends = new Map<string, Array<{ partition: number, offset: string }>>()
    if (spec.mode === 'broadcast') for (const topic of topics) ends.set(topic, await settled(async () => (await getAdmin()).fetchTopicOffsets(topic)))

    const handleBatch = batchHandler(spec)
    const broadcast = spec.mode === 'broadcast'
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: SESSION_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_INTERVAL_MS,
      rebalanceTimeout: 30_000,
      // A fetch answers as soon as one record arrives (minBytes 1); the wait only bounds an empty
      // fetch, so a long one costs no latency and keeps an idle instance idle. (A busy shared
      // consumer lingers instead: `lingerConsumerGroup` below.)
      maxWaitTimeInMs: IDLE_FETCH_WAIT_MS,
      minBytes: 1,
      allowAutoTopicCreation: false,
      // Retriable failures (a broker restart, a lost coordinator) restart the consumer, forever.
      retry: {
        retries: 8,
        initialRetryTime: 200,
        maxRetryTime: 3000,
        restartOnFailure: async (err) => {
          if (stopping) return false
          log.error({ err }, 'Kafka consumer crashed; restarting')
          return true
        }
      }
    })
    let stopping = false
    // The delivery path (broadcast) fetches each record the moment it is there; the shared
    // handlers (store, cache, recovery log, mentions) take a busy log in larger batches.
    const unlinger = broadcast ? () => {} : lingerConsumerGroup(groupId, options.consumeLingerMs ?? 0)
    // topic/partition → next offset to read, once every handler is done (lag counts it before the commit lands)
    const handled = new Map<string, string>()
    // Broadcast: fetched records and those this instance appended share one dispatch per partition.
    const lane = broadcast
      ? new BroadcastLane({
        dispatch: handleBatch,
        producerControl: { get revoked () { return stopping }, heartbeat: async () => {} },
        taken: broadcastTaken,
        done: (partitionKey, next) => { handled.set(partitionKey, next) },
        failed: (err, records) => { if (!stopping) log.error({ err, topic: records[0].topic, partition: records[0].partition, offset: records[0].offset }, 'topic handler threw on records this instance produced') }
      })
      : undefined
    let joined!: () => void
    let failed!: (err: Error) => void
    const ready = new Promise<void>((resolve, reject) => { joined = resolve; failed = reject })
    let first = true
    consumer.on(consumer.events.GROUP_JOIN, () => {
      // kafkajs's stop() misses a restart that is joining at that moment: stop it once it has joined
      if (stopping) { consumer.disconnect().catch(() => {}); return }
      // Called synchronously after the join, before the first fetch.
      if (broadcast) {
        // This instance's own group owns every partition: it resumes exactly after what it handled
        // (or where it started), on the first join and after a restart alike. No offset is ever
        // committed (no commit request per batch on the delivery path), and a restart can neither
        // skip ahead to the latest offset (a gap) nor fall back (duplicates the hub would drop).
        for (const [topic, offsets] of ends) {
          for (const { partition, offset } of offsets) {
            const from = handled.get(`${topic}/${partition}`) ?? offset
            consumer.seek({ topic, partition, offset: from })
            lane!.start(`${topic}/${partition}`, epochOf(cluster, topic, partition), from)
          }
        }
      } else {
        // Shared: rebalances and restarts resume from the committed offsets; what an earlier
        // assignment handled says nothing about the partitions held now.
        handled.clear()
      }
      first = false
      joined()
      // after a restart the cluster may be another one (re-created under the same address): read
      // its identity again on every join rather than trusting the cached one
      clusterId = undefined
      getClusterId().then((id) => { cluster = id }, () => {})
    })
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return
      // kafkajs gives up on errors it deems permanent: say so loudly and fail readiness, so the
      // instance is restarted rather than left with a handler that silently stopped.
      failed(payload.error)
      if (!stopping && !first) {
        dead.add(groupId)
        log.fatal({ err: payload.error }, 'Kafka consumer stopped for good; this instance is no longer ready')
        spec.onDead?.(payload.error)
      }
    })

    const handle: Consumer = {
      async stop () {
        if (stopping) return
        stopping = true
        running.delete(handle)
        groups.delete(groupId)
        if (lane) for (const topic of topics) lanes.get(topic)?.delete(lane)
        unlinger()
        await consumer.disconnect().catch((err) => log.warn({ err }, 'Kafka consumer did not disconnect cleanly'))
        // A broadcast group belongs to this run of this instance: remove it (it is empty now).
        if (spec.mode === 'broadcast') await getAdmin().then((a) => a.deleteGroups([groupId])).catch(() => {})
      }
    }

    try {
      await consumer.connect()
      await consumer.subscribe({ topics, fromBeginning: spec.mode === 'shared' })
      await consumer.run({
        partitionsConsumedConcurrently: options.partitions,
        eachBatchAutoResolve: false,
        autoCommit: !broadcast,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (batch.messages.length === 0 || isStale()) return
          const { topic, partition } = batch
          const epoch = epochOf(cluster, topic, partition)
          const records: BusRecord[] = batch.messages.map((message) => ({
            topic: logical(topic),
            partition,
            offset: message.offset,
            epoch,
            key: message.key?.toString('utf8') ?? '',
            value: message.value ?? Buffer.alloc(0),
            timestamp: Number(message.timestamp)
          }))
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
      running.add(handle)
      if (lane) for (const topic of topics) lanes.set(topic, (lanes.get(topic) ?? new Set()).add(lane))
      groups.set(groupId, { topics, start: new Map([...ends].flatMap(([topic, offsets]) => offsets.map((e) => [`${topic}/${e.partition}`, e.offset]))), handled })
      await within(JOIN_TIMEOUT_MS, 'joining the group', ready)
    } catch (err) {
      await handle.stop()
      throw unavailable(`joining consumer group ${groupId}`, err)
    }
    return handle
  }

  return {
    kind: 'kafka',
    broadcastTaken,
    ensureTopics,
    produce,
    consume,
    async prepare (topics) {
      // An idempotent producer connects with a round trip for its id, and kafkajs reads a topic's
      // metadata on its first send to it: done here, the first posts after start do not queue
      // behind them (200–350 ms at 1,000 posts/s). An empty batch reads the metadata, sends nothing.
      const names = [...new Set(topics.map(physical))]
      const current = getProducer()
      try {
        // connected first: a (re)connected producer drops the cluster id it may have read meanwhile
        await within(PRODUCE_TIMEOUT_MS, 'preparing the producer', current.then((p) => Promise.all([
          p.sendBatch({ acks: -1, topicMessages: names.map((topic) => ({ topic, messages: [] })) }),
          getClusterId(),
          partitionsOf(names)
        ])))
      } catch (err) {
        resetProducer(current)
        throw unavailable('preparing the producer', err)
      }
    },
    async ping () {
      if (closed) throw new Error('event bus is closed')
      if (dead.size) throw new Error(`Kafka consumer stopped for good: ${[...dead].join(', ')}`)
      const current = getAdmin()
      try {
        await within(PING_TIMEOUT_MS, 'describeCluster', current.then((a) => a.describeCluster()))
      } catch (err) {
        resetAdmin(current)
        throw unavailable('ping', err)
      }
    },
    async lag () {
      if (closed) throw new Error('event bus is closed')
      const a = await getAdmin()
      const ends = new Map<string, Awaited<ReturnType<Admin['fetchTopicOffsets']>>>()
      for (const { topics } of groups.values()) for (const topic of topics) if (!ends.has(topic)) ends.set(topic, await settled(() => a.fetchTopicOffsets(topic)))
      const lags: ConsumerLag[] = []
      for (const [group, { topics, start, handled }] of groups) {
        const committedByTopic = await a.fetchOffsets({ groupId: group, topics })
        for (const topic of topics) {
          for (const end of ends.get(topic) ?? []) {
            const committed = committedByTopic.find((c) => c.topic === topic)
            // what this instance handled counts at once, also before the commit lands
            const stored = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1'
            const local = handled.get(`${topic}/${end.partition}`)
            const done = local !== undefined && Number(local) > Number(stored) ? local : stored
            // nothing committed yet: from where a broadcast group started, else the partition's start
            const from = done !== '-1' ? done : start.get(`${topic}/${end.partition}`) ?? end.low
            lags.push({ group, topic: logical(topic), partition: end.partition, lag: Math.max(0, Number(end.high) - Number(from)) })
          }
        }
      }
      return lags
    },
    async close () {
      if (closed) return
      closed = true
      await Promise.all([...running].map((c) => c.stop()))
      const [p, a] = [producer, admin]
      producer = undefined
      admin = undefined
      await Promise.all([p?.then((x) => x.disconnect()).catch(() => {}), a?.then((x) => x.disconnect()).catch(() => {})])
    }
  }
}

/**
 * Topic settings by replication factor. acks=all means "every in-sync replica": with three copies,
 * require two in sync, so an acknowledged record survives the loss of a broker
 * (docs/real-services.md); a development cluster of one broker keeps the broker default.
 */
export function topicConfig (replicationFactor: number): Array<{ name: string, value: string }> {
  return replicationFactor >= 3 ? [{ name: 'min.insync.replicas', value: '2' }] : []
}

/** The indexes of `list`, grouped by `keyOf`, each group in list order. */
function groupIndexes<T, K> (list: readonly T[], keyOf: (item: T) => K): Map<K, number[]> {
  const groups = new Map<K, number[]>()
  list.forEach((item, i) => {
    const key = keyOf(item)
    const group = groups.get(key)
    if (group) group.push(i)
    else groups.set(key, [i])
  })
  return groups
}

/** kafkajs marks passing trouble `retriable`, also under the error it throws once its retries are spent. */
function retriable (err: unknown): boolean {
  for (let e = err as { retriable?: boolean, cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.retriable === true) return true
  }
  return false
}
