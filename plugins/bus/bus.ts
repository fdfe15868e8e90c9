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

/** What a batch handler may ask of the consumer while it works on a batch. */
export interface BatchControl {
  /** True once this consumer no longer owns the batch's partition (rebalance, stop): write nothing more. */
  readonly revoked: boolean
  /** Keeps the group membership alive during a long wait; rejects when a rebalance took the partition. */
  heartbeat (): Promise<void>
}

interface ConsumerSpecBase {
  /** Names the consumer group: `shared` → one group for the cluster, `broadcast` → one per instance. */
  name: string
  /** One topic, or several read by the one consumer (each batch holds records of one topic and partition). */
  topic: string | readonly string[]
  mode: DeliveryMode
  /** Called when the log gives up on this consumer for good (it will not restart by itself). */
  onDead? (err: Error): void
  /**
   * Broadcast only: reads no partition until `read` asks for it, and stops at `skip` (a fanout
   * that reads what its sockets need, docs/scaling.md). Honoured by buses with `selective`.
   */
  selective?: boolean
  /**
   * Shared only: this consumer's consume linger in ms, instead of the bus's (KAFKA_CONSUME_LINGER_MS):
   * a handler whose store pays per write per batch gathers bigger batches. Honoured by the Kafka bus.
   */
  lingerMs?: number
}

/** The topics a spec reads. */
export function topicsOf (spec: { topic: string | readonly string[] }): string[] {
  return typeof spec.topic === 'string' ? [spec.topic] : [...spec.topic]
}

/**
 * A consumer takes records one at a time (`handle`) or a batch at a time (`handleBatch`: records of
 * one partition in offset order, as fetched). Offsets are committed once the call resolves; a call
 * that rejects leaves its records uncommitted, to be delivered again (only while stopping or after
 * losing the partition: the registry never rejects otherwise).
 */
export type ConsumerSpec = ConsumerSpecBase & (
  | { handle (record: BusRecord): Promise<void>, handleBatch?: never }
  | { handleBatch (records: BusRecord[], control: BatchControl): Promise<void>, handle?: never }
)

/** The batch form of a spec (a per-record handler runs its batch one record after another). */
export function batchHandler (spec: ConsumerSpec): (records: BusRecord[], control: BatchControl) => Promise<void> {
  if (spec.handleBatch) return spec.handleBatch
  const handle = spec.handle
  return async (records) => { for (const record of records) await handle(record) }
}

/** Where a selective consumer reads a partition from: every record from `offset` on is dispatched. */
export interface ReadFrom { epoch: string, offset: string }

export interface Consumer {
  stop (): Promise<void>
  /**
   * A selective consumer starts reading the partition of `topic` (logical) from the log's end as
   * it is now; resolves once every record from the returned offset on will be dispatched. Already
   * read: where it reads from since it last started.
   */
  read? (topic: string, partition: number): Promise<ReadFrom>
  /** A selective consumer stops reading the partition: records appended meanwhile are never dispatched. */
  skip? (topic: string, partition: number): void
}

/**
 * How far a consumer group trails the end of one partition (records produced but not yet handled);
 * `consumer` and `mode` are its spec's name and delivery mode; `next` the next offset it handles.
 */
export interface ConsumerLag { group: string, consumer: string, mode: DeliveryMode, topic: string, partition: number, next: number, lag: number }

export interface EventBus {
  readonly kind: 'embedded' | 'kafka'
  /** Creates the (logical) topics if missing. */
  ensureTopics (topics: string[]): Promise<void>
  /** Resolves once the record is durably in the log (acks = all); records with one key keep their order. */
  produce (topic: string, key: string, value: string | Buffer): Promise<ProduceResult>
  /** `broadcast` consumers start at the latest offset; `shared` ones resume their group (from the start when new). */
  consume (spec: ConsumerSpec): Promise<Consumer>
  /**
   * Gets ready to produce to these (existing) topics at start-up, so that the first post pays no
   * set-up: connects the producer and reads where the topics' partitions are (optional).
   */
  prepare? (topics: string[]): Promise<void>
  /** Throws when the log is unreachable. */
  ping (): Promise<void>
  /**
   * Records this instance's broadcast consumers dispatched, by how they came: fetched from the log,
   * or handed over by this instance's producer when the log acknowledged them (optional).
   */
  readonly broadcastTaken?: { readonly fetch: number, readonly producer: number }
  /**
   * The offset from which this instance's broadcast consumer `name` hands every record of the
   * partition `epoch` to its handlers without a break (where it first read that partition, or a
   * selective consumer resumed it last), or undefined when it does not read it. Recovery on an instance that has delivered nothing yet stands there
   * (plugins/recovery; optional).
   */
  broadcastFrom? (name: string, epoch: string): string | undefined
  /** Whether its broadcast consumers honour `selective` (optional; the embedded bus reads every partition). */
  readonly selective?: boolean
  /** The partition a record with this key goes to, as the producer places it (optional). */
  partitionOf? (topic: string, key: string): Promise<number>
  /** Lag of this instance's consumer groups (`only`: those of one delivery mode), per partition (read by /metrics and /ready; optional). */
  lag? (only?: DeliveryMode): Promise<ConsumerLag[]>
  close (): Promise<void>
}

export interface BusOptions {
  topicPrefix: string
  partitions: number
  instanceId: string
}
