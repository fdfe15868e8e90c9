// The bus's producer: idempotent (acks = all), one request in flight, and concurrent produces
// sharing requests (../batching.ts). Each record's partition is chosen here, and each request goes
// to one leader broker, so a broker that fails fails only its own records. What the log appended
// goes to this instance's broadcast consumers at once (handoff.ts).
import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs'
import { createBatcher, ItemFailure } from '../batching.ts'
import type { ProduceResult } from '../bus.ts'
import { epochOf, type ClusterAdmin } from './admin.ts'
import type { TopicNames, Unavailable } from './client.ts'
import { Timeout, within } from './deadlines.ts'
import { groupIndexes } from './group-indexes.ts'
import type { Handoff, Placed } from './handoff.ts'

/** A produce that has no answer by then is failed (503): a request never hangs on a dead broker. */
export const PRODUCE_TIMEOUT_MS = 4000

export interface ProducerOptions {
  admin: ClusterAdmin
  handoff: Handoff
  names: TopicNames
  unavailable: Unavailable
  /** Under load, how long a produce waits for others to share its request. */
  lingerMs: number
  /** True once the bus closed: produces are refused. */
  closed (): boolean
}

interface Outgoing { topic: string, message: Message }
type Outcome = Placed | ItemFailure

export function createProducer (kafka: Kafka, { admin, handoff, names, unavailable, lingerMs, closed }: ProducerOptions) {
  // A failed or timed-out send discards the producer: a fresh one gets a new producer id and
  // sequence numbers, and reconnects once the cluster is back.
  let producer: Promise<Producer> | undefined
  // Each producer's client, to disconnect also when its connect failed part way (some brokers
  // connected: their sockets would stay open); and once closed, never a new one (a late send
  // would open a client nobody disconnects, whose sockets keep the process alive).
  const clients = new WeakMap<Promise<Producer>, Producer>()
  let ended = false
  // Producers reset or closed. kafkajs keeps retrying a send we stopped waiting for (the deadline)
  // and reconnects to its brokers to do so, after our disconnect: such a send, once settled,
  // disconnects its producer again (`settle`), or its sockets stay open for good.
  const discarded = new WeakSet<Producer>()
  const disconnect = (which: Promise<Producer>) => {
    const client = clients.get(which)
    if (client) discarded.add(client)
    return which.then((p) => p.disconnect(), () => client?.disconnect()).catch(() => {})
  }
  /** A kafkajs call on `p`, which disconnects `p` again when it ends after `p` was discarded. */
  function settle<T> (p: Producer, call: Promise<T>): Promise<T> {
    call.catch(() => {}).finally(() => { if (discarded.has(p)) void p.disconnect().catch(() => {}) })
    return call
  }
  function get (): Promise<Producer> {
    if (ended) return Promise.reject(new Error('the Kafka producer is closed'))
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
      const ready = p.connect().then(() => { admin.forgetCluster(); return p })
      producer = ready
      clients.set(ready, p)
      ready.catch(() => reset(ready))
    }
    return producer
  }
  function reset (which: Promise<Producer>) {
    if (producer !== which) return
    producer = undefined
    admin.forgetCluster()
    void disconnect(which)
  }

  // Where each message goes is decided here, before kafkajs sees it: the default partitioner
  // (murmur2 of the key, as Java's) over the topic's partitions, which are grouped by leader
  // broker. One sendBatch per leader means one produce request per broker, each answered on its
  // own: a broker that fails fails only its own messages (kafkajs would reject the whole batch,
  // also the messages other brokers appended, and their retries would duplicate them).
  const partitioner = Partitioners.DefaultPartitioner()

  /**
   * The messages queued while the previous request was in flight, one produce request (acks = all)
   * per leader broker. A request the broker refused (or that failed before reaching it) left
   * kafkajs's sequence numbers as they were, so the same producer sends each of its partitions
   * again alone: a partition the broker had appended is answered as a duplicate with its first
   * offsets (idempotence), one it refused fails alone. Only a request with no answer at all (the
   * deadline) fails its messages unknown.
   */
  async function sendBatch (items: Outgoing[]): Promise<Outcome[]> {
    const current = get()
    const until = Date.now() + PRODUCE_TIMEOUT_MS
    const left = () => Math.max(1, until - Date.now())
    const outcomes: Outcome[] = new Array(items.length)
    let failed = false
    try {
      // one deadline for connecting (after an outage), the metadata and the requests
      const [p, cluster, partitions] = await within(left(), 'produce', Promise.all([current, admin.clusterId(), admin.partitionsOf([...new Set(items.map((i) => i.topic))])]))
      const byLeader = groupIndexes(items, ({ topic, message }) => {
        const partitionMetadata = partitions.get(topic)!
        message.partition = partitioner({ topic, partitionMetadata, message })
        return partitionMetadata.find((m) => m.partitionId === message.partition)?.leader ?? -1
      })

      /** One sendBatch of these items: their places, in order. */
      const request = async (indexes: number[]) => {
        const byTopic = groupIndexes(indexes, (i) => items[i].topic)
        const topicMessages = [...byTopic].map(([topic, of]) => ({ topic, messages: of.map((j) => items[indexes[j]].message) }))
        const metas = await within(left(), 'produce', settle(p, p.sendBatch({ acks: -1, topicMessages })))
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
        // in the log now: this instance's broadcast consumers take them before the produce resolves
        if (handoff.wanted) handoff.deliver(indexes.map((i) => ({ topic: items[i].topic, message: items[i].message, placed: outcomes[i] as Placed })))
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
      if (failed) { reset(current); admin.forgetPartitions() }
    }
  }
  // Concurrent produces share one request (see batching.ts): the idempotent producer sends one at a time.
  const send = createBatcher(sendBatch, { maxBatch: 500, maxWaitMs: PRODUCE_TIMEOUT_MS, lingerMs })

  return {
    async produce (topic: string, key: string, value: string | Buffer): Promise<ProduceResult> {
      if (closed()) throw new Error('event bus is closed')
      try {
        // encoded once: kafkajs writes these bytes, and a broadcast lane hands the same Buffer on
        const { partition, offset, epoch } = await send({ topic: names.physical(topic), message: { key, value: typeof value === 'string' ? Buffer.from(value) : value } })
        return { topic, partition, offset, epoch }
      } catch (err) {
        if (closed()) throw new Error('event bus is closed')
        throw unavailable(`producing to ${topic}`, err)
      }
    },

    /**
     * An idempotent producer connects with a round trip for its id, and kafkajs reads a topic's
     * metadata on its first send to it: done here, the first posts after start do not queue
     * behind them (200–350 ms at 1,000 posts/s). An empty batch reads the metadata, sends nothing.
     */
    async prepare (topics: string[]) {
      const physical = [...new Set(topics.map(names.physical))]
      const current = get()
      try {
        // connected first: a (re)connected producer drops the cluster id it may have read meanwhile
        await within(PRODUCE_TIMEOUT_MS, 'preparing the producer', current.then((p) => Promise.all([
          settle(p, p.sendBatch({ acks: -1, topicMessages: physical.map((topic) => ({ topic, messages: [] })) })),
          admin.clusterId(),
          admin.partitionsOf(physical)
        ])))
      } catch (err) {
        reset(current)
        throw unavailable('preparing the producer', err)
      }
    },

    /** Disconnects (the bus is closing). */
    close (): Promise<void> {
      ended = true
      const p = producer
      producer = undefined
      return p ? disconnect(p) : Promise.resolve()
    }
  }
}
