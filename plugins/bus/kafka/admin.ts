// What the bus asks the cluster as such, over one admin connection (reconnected after failures):
// its identity (the epochs of partitions), its topics (created when missing) and where their
// partitions are (for the producer to place records). Producer and consumers forget the identity
// when they may face another cluster at the same address.
import type { FastifyBaseLogger } from 'fastify'
import type { Admin, Kafka, PartitionMetadata } from 'kafkajs'
import type { TopicNames } from './client.ts'
import { settled } from './deadlines.ts'
import { checkTopics, topicConfig, topicTarget } from './topic-check.ts'

export interface AdminOptions {
  logger: FastifyBaseLogger
  names: TopicNames
  /** Partitions of a topic the bus creates. */
  partitions: number
  /** True once the bus closed: retries end. */
  closed (): boolean
}

/** How long where partitions are is trusted before it is read again. */
const META_MAX_AGE_MS = 60_000

/**
 * The epoch names a partition's history: the cluster's id (new when a cluster is re-created or
 * wiped), the topic and the partition. kafkajs speaks no Metadata version that returns topic ids.
 */
export const epochOf = (cluster: string, topic: string, partition: number) => `${cluster}/${topic}/${partition}`

export type ClusterAdmin = ReturnType<typeof createAdmin>

/** A kafkajs error (or one it wraps) saying the cluster does not know a topic. */
export function unknownTopic (err: unknown): boolean {
  for (let e = err as { type?: string, cause?: unknown, originalError?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true
    e = (e.originalError ?? e.cause) as typeof e
  }
  return false
}

export function createAdmin (kafka: Kafka, { logger, names, partitions, closed }: AdminOptions) {
  // One admin client for metadata, topic creation, offsets and readiness; reconnected after failures.
  let admin: Promise<Admin> | undefined
  // Once closed, never connected again: a late caller (a consumer's join racing the close, a
  // producer's retry) would open a client nobody disconnects, and its sockets keep the process alive.
  let ended = false
  function get (): Promise<Admin> {
    if (ended) return Promise.reject(new Error('the Kafka admin client is closed'))
    if (!admin) {
      const a = kafka.admin({ retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } })
      admin = a.connect().then(() => a)
      admin.catch(() => { admin = undefined; a.disconnect().catch(() => {}) })
    }
    return admin
  }
  function reset (which: Promise<Admin> | undefined) {
    if (!which || admin !== which) return
    admin = undefined
    which.then((a) => a.disconnect()).catch(() => {})
  }

  let clusterId: Promise<string> | undefined
  function getClusterId (): Promise<string> {
    if (!clusterId) {
      clusterId = get().then((a) => a.describeCluster()).then((c) => c.clusterId)
      clusterId.catch(() => { clusterId = undefined })
    }
    return clusterId
  }

  // The (logical) topics this bus has ensured: if the cluster loses them (wiped and started again,
  // a new cluster at the same address), the next lookup of where their partitions are creates them
  // again, as the start-up did, instead of every produce failing until an instance restarts.
  const ensured = new Set<string>()
  let recreating: Promise<void> | undefined
  function recreate (): Promise<void> {
    recreating ??= (async () => {
      logger.warn({ topics: [...ensured] }, 'Kafka no longer knows topics this instance ensured (a wiped or new cluster?): creating them again')
      await ensure([...ensured])
    })().finally(() => { recreating = undefined })
    return recreating
  }

  /** Creates the topics that do not exist yet; holds the existing ones to the target (topic-check.ts). */
  async function ensure (topics: string[]) {
    for (const topic of topics) ensured.add(topic)
    const a = await get()
    const wanted = [...new Set(topics.map(names.physical))]
    const existing = new Set(await a.listTopics())
    const { brokers } = await a.describeCluster()
    const target = topicTarget(partitions, brokers.length)
    await checkTopics(a, wanted.filter((t) => existing.has(t)), target, logger)
    const missing = wanted.filter((t) => !existing.has(t))
    if (missing.length === 0) return
    try {
      await a.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: target.partitions, replicationFactor: target.replicationFactor, configEntries: topicConfig(target) })), waitForLeaders: false, timeout: 10_000 })
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
    }, closed)
    logger.info({ topics: missing, ...target }, 'created Kafka topics')
  }

  let metadata: { at: number, topics: Map<string, PartitionMetadata[]> } = { at: 0, topics: new Map() }
  /** The partitions of these (physical) topics, each list by partition id. */
  async function partitionsOf (topics: string[]): Promise<Map<string, PartitionMetadata[]>> {
    if (Date.now() - metadata.at > META_MAX_AGE_MS) metadata = { at: Date.now(), topics: new Map() }
    const missing = topics.filter((t) => !metadata.topics.has(t))
    if (missing.length) {
      const fetch = async () => (await get()).fetchTopicMetadata({ topics: missing })
      const { topics: fetched } = await fetch().catch(async (err: unknown) => {
        // a topic this bus ensured is gone: created again, then asked once more
        if (!unknownTopic(err) || !missing.some((t) => [...ensured].some((e) => names.physical(e) === t))) throw err
        await recreate()
        return await fetch()
      })
      for (const { name, partitions } of fetched) {
        if (partitions.length === 0) throw new Error(`no partitions known for ${name}`)
        metadata.topics.set(name, [...partitions].sort((a, b) => a.partitionId - b.partitionId))
      }
    }
    return metadata.topics
  }

  return {
    /** The connected admin client (connecting it first when needed). */
    get,
    /** Drops `which` when it is still the current client: the next call connects a fresh one. */
    reset,
    /** The cluster's id, read once and kept until forgotten. */
    clusterId: getClusterId,
    /** The cluster at this address may be another one now (a reconnect, a consumer's join): read its id again. */
    forgetCluster () { clusterId = undefined },
    /** Creates the (logical) topics that do not exist yet and waits until each partition has a leader; refuses existing ones weaker than the target. */
    ensure,
    partitionsOf,
    /** A send failed: where partitions are may have changed. */
    forgetPartitions () { metadata = { at: 0, topics: new Map() } },
    /** Disconnects (the bus is closing). */
    close (): Promise<void> {
      ended = true
      const a = admin
      admin = undefined
      return a?.then((x) => x.disconnect()).catch(() => {}) ?? Promise.resolve()
    }
  }
}
