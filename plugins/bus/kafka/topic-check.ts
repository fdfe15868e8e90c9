// Topics that already exist are held to what switchboard would create: never run silently weaker
// than configured. The partition count is never changed (it would move channels to other
// partitions, breaking their order and positions): a mismatch stops start-up with what to do. A
// replication factor below the cluster's target stops start-up too (raising it is a partition
// reassignment, an operator's move). A min.insync.replicas below the target is brought to it.
import kafkajs, { type Admin, type ITopicMetadata } from 'kafkajs'
import type { FastifyBaseLogger } from 'fastify'

// kafkajs's enums are properties of its CommonJS exports that Node's named-export detection misses
const { ConfigResourceTypes, ConfigSource } = kafkajs

/** What the bus wants of every topic it uses. */
export interface TopicTarget {
  partitions: number
  replicationFactor: number
  /** min.insync.replicas, or undefined to keep the broker's default (a cluster of one or two brokers). */
  minInsyncReplicas: number | undefined
}

/** A topic switchboard will not run on: its name, what differs, and how to fix it. */
export class TopicMismatchError extends Error {
  override name = 'TopicMismatchError'
}

/** The target on a cluster of `brokers`: three copies and two in sync where it has three brokers, fewer on a smaller (development) one. */
export function topicTarget (partitions: number, brokers: number): TopicTarget {
  const replicationFactor = Math.min(3, brokers)
  return { partitions, replicationFactor, minInsyncReplicas: replicationFactor >= 3 ? 2 : undefined }
}

/** Topic settings for creating a topic to the target. */
export function topicConfig (target: TopicTarget): Array<{ name: string, value: string }> {
  return target.minInsyncReplicas === undefined ? [] : [{ name: 'min.insync.replicas', value: String(target.minInsyncReplicas) }]
}

/** What is wrong with an existing topic, as sentences (empty: it meets the target). Pure, for tests. */
export function mismatches (topic: ITopicMetadata, target: TopicTarget): string[] {
  const found: string[] = []
  if (topic.partitions.length !== target.partitions) {
    found.push(`topic ${topic.name} has ${topic.partitions.length} partitions, KAFKA_PARTITIONS is ${target.partitions}: ` +
      'switchboard never changes a topic\'s partition count (channels would move to other partitions, losing their order and positions); ' +
      `set KAFKA_PARTITIONS=${topic.partitions.length}, or use new topics (KAFKA_TOPIC_PREFIX)`)
  }
  const replicas = Math.min(...topic.partitions.map((p) => p.replicas.length))
  if (replicas < target.replicationFactor) {
    found.push(`topic ${topic.name} has ${replicas} replica(s) per partition, this cluster's target is ${target.replicationFactor}: ` +
      'raise its replication factor with a partition reassignment (kafka-reassign-partitions), then start again')
  }
  return found
}

/** Checks the existing (physical) topics; brings min.insync.replicas up; throws TopicMismatchError naming every mismatch. */
export async function checkTopics (admin: Admin, names: string[], target: TopicTarget, logger: FastifyBaseLogger): Promise<void> {
  if (names.length === 0) return
  const { topics } = await admin.fetchTopicMetadata({ topics: names })
  const problems = topics.flatMap((topic) => mismatches(topic, target))
  if (problems.length) throw new TopicMismatchError(problems.join('; '))
  if (target.minInsyncReplicas === undefined) return
  const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })) })
  for (const resource of resources) {
    const current = Number(resource.configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue ?? 1)
    if (current >= target.minInsyncReplicas) continue
    // AlterConfigs replaces a topic's whole set of overrides: keep the others as they are.
    const kept = resource.configEntries
      .filter((e) => !e.isDefault && e.configSource === ConfigSource.TOPIC_CONFIG && e.configName !== 'min.insync.replicas')
      .map((e) => ({ name: e.configName, value: e.configValue }))
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: resource.resourceName, configEntries: [...kept, { name: 'min.insync.replicas', value: String(target.minInsyncReplicas) }] }]
    })
    logger.warn({ topic: resource.resourceName, from: current, to: target.minInsyncReplicas }, 'raised the topic\'s min.insync.replicas to the target: an acknowledged record survives the loss of a broker')
  }
}
