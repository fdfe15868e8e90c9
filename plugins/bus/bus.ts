// The event bus contract: Kafka's semantics that the rest of switchboard relies on.
export type DeliveryMode = 'shared' | 'broadcast'

export interface BusRecord {
  topic: string // logical topic name, without the prefix
  partition: number
  offset: string // decimal string; grows with every record of the partition
  epoch: string // identity of the partition's history: offsets from another epoch mean nothing here
  key: string
  value: Buffer
  timestamp: number
}

export interface ProduceResult { topic: string, partition: number, offset: string, epoch: string }

export interface ConsumerSpec {
  /** Names the consumer group: `shared` → one group for the cluster, `broadcast` → one per instance. */
  name: string
  topic: string
  mode: DeliveryMode
  /** Called once per record, in offset order per partition; must not throw (the registry catches). */
  handle (record: BusRecord): Promise<void>
}

export interface Consumer { stop (): Promise<void> }

/** How far a consumer group trails the end of one partition (records produced but not yet handled). */
export interface ConsumerLag { group: string, topic: string, partition: number, lag: number }

export interface EventBus {
  readonly kind: 'embedded' | 'kafka'
  /** Creates the (logical) topics if missing. */
  ensureTopics (topics: string[]): Promise<void>
  /** Resolves once the record is durably in the log (acks = all); records with one key keep their order. */
  produce (topic: string, key: string, value: string | Buffer): Promise<ProduceResult>
  /** `broadcast` consumers start at the latest offset; `shared` ones resume their group (from the start when new). */
  consume (spec: ConsumerSpec): Promise<Consumer>
  /** Throws when the log is unreachable. */
  ping (): Promise<void>
  /** Lag of this instance's consumer groups, per partition (read by /metrics; optional). */
  lag? (): Promise<ConsumerLag[]>
  close (): Promise<void>
}

export interface BusOptions {
  topicPrefix: string
  partitions: number
  instanceId: string
}
