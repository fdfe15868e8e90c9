// The event bus on Apache Kafka (kafkajs): an idempotent producer (acks = all) and consumers in a
// cluster-wide group (`shared`) or a group of this instance alone (`broadcast`). This file only
// assembles the rooms and holds what is the bus's own: whether it is closed.
// - client.ts: the kafkajs client, topic names with the prefix, the "unavailable" error;
// - admin.ts: the cluster's identity (epochs), topics and partitions, over one admin client;
// - producer.ts: placing and sending records; handoff.ts: giving them to this instance's broadcast lanes;
// - consumer.ts: one consumer (join and seeks, run loop), tuned in consumer-settings.ts; selective.ts:
//   the partitions a selective one reads; registry.ts: this instance's consumers, their lag;
// - sockets.ts: every broker connection, so that a closed bus keeps none.
import { Partitioners } from 'kafkajs'
import type { EventBus } from '../bus.ts'
import type { BroadcastTaken } from '../broadcast-lane.ts'
import { createAdmin } from './admin.ts'
import { createSockets } from './sockets.ts'
import { createClient, topicNames, unavailableAt, type KafkaBusOptions } from './client.ts'
import { startConsumer } from './consumer.ts'
import { within } from './deadlines.ts'
import { createHandoff } from './handoff.ts'
import { createProducer } from './producer.ts'
import { createRegistry } from './registry.ts'
import { TopicMismatchError } from './topic-check.ts'

export type { KafkaBusOptions } from './client.ts'
export { TopicMismatchError, mismatches, topicConfig, topicTarget } from './topic-check.ts'

const PING_TIMEOUT_MS = 2000

export function createKafkaBus (options: KafkaBusOptions): EventBus {
  const { logger, topicPrefix: prefix } = options
  const sockets = createSockets(options.socketFactory)
  const kafka = createClient({ ...options, socketFactory: sockets.factory })
  const names = topicNames(prefix)
  const unavailable = unavailableAt(options.brokers)
  let closed = false
  const isClosed = () => closed
  const broadcastTaken: BroadcastTaken = { fetch: 0, producer: 0 }

  const admin = createAdmin(kafka, { logger, names, partitions: options.partitions, closed: isClosed })
  const handoff = createHandoff(logger, names)
  const registry = createRegistry()
  const producer = createProducer(kafka, { admin, handoff, names, unavailable, lingerMs: options.lingerMs ?? 0, closed: isClosed })
  const consumerOptions = {
    logger,
    admin,
    handoff,
    registry,
    names,
    unavailable,
    taken: broadcastTaken,
    prefix,
    instanceId: options.instanceId,
    partitions: options.partitions,
    consumeLingerMs: options.consumeLingerMs ?? 0,
    closed: isClosed
  }

  // the producer's partitioner (murmur2 of the key over the topic's partitions): where a channel's records are
  const partitioner = Partitioners.DefaultPartitioner()

  return {
    kind: 'kafka',
    broadcastTaken,
    selective: true,
    async partitionOf (topic, key) {
      const physical = names.physical(topic)
      const partitionMetadata = (await admin.partitionsOf([physical])).get(physical)!
      return partitioner({ topic: physical, partitionMetadata, message: { key, value: null } })
    },
    async ensureTopics (topics) {
      try {
        await admin.ensure(topics)
      } catch (err) {
        // a topic weaker than the target is the operator's to fix, not a passing outage
        if (err instanceof TopicMismatchError) throw err
        throw unavailable('creating topics', err)
      }
    },
    produce: producer.produce,
    consume: (spec) => startConsumer(kafka, consumerOptions, spec),
    prepare: producer.prepare,
    async ping () {
      if (closed) throw new Error('event bus is closed')
      registry.assertAlive()
      const current = admin.get()
      try {
        await within(PING_TIMEOUT_MS, 'describeCluster', current.then((a) => a.describeCluster()))
      } catch (err) {
        admin.reset(current)
        throw unavailable('ping', err)
      }
    },
    broadcastFrom: (name, epoch) => registry.firstOffset(`${prefix}${name}.${options.instanceId}`, epoch),
    async lag (only) {
      if (closed) throw new Error('event bus is closed')
      return registry.lag(admin, names, isClosed, only)
    },
    async close () {
      if (closed) return
      closed = true
      await registry.stopAll()
      await Promise.all([producer.close(), admin.close()])
      sockets.end() // what kafkajs still holds or retries after its disconnects (sockets.ts)
    }
  }
}
