// In-process event log with the Kafka semantics the rest relies on: keyed partitions, per-partition
// order, offsets as positions, consumer groups (`shared`) and per-instance readers (`broadcast`).
// The broadcast lane as on Kafka: a broadcast reader that is idle on the partition dispatches a
// produced record in the produce call itself, so the poster's own broadcast handlers have run by
// the time its produce resolves.
import { randomUUID } from 'node:crypto'
import type { BroadcastTaken } from './broadcast-lane.ts'
import { batchHandler, topicsOf, type BatchControl, type BusOptions, type BusRecord, type Consumer, type ConsumerLag, type ConsumerSpec, type EventBus, type ProduceResult } from './bus.ts'

interface Partition { records: BusRecord[], base: number }
interface Topic { epoch: string, partitions: Partition[], readers: Set<{ appended (partition: number): void }> }

/** Records kept per partition; older ones are dropped once every group has read them. */
const RETENTION = 50_000
/** Most records handed to a consumer at once (Kafka's fetch size plays this part there). */
const MAX_BATCH = 500

// Kafka's default partitioner is murmur2; any stable hash keeps the per-key order guarantee.
function partitionFor (key: string, count: number): number {
  let h = 2166136261
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619)
  return (h >>> 0) % count
}

export function createEmbeddedBus (options: BusOptions): EventBus {
  const topics = new Map<string, Topic>()
  const committed = new Map<string, number[]>() // group → next offset per partition
  const running = new Set<Reader>()
  const broadcastTaken: BroadcastTaken = { fetch: 0, producer: 0 }
  let closed = false

  function topic (name: string): Topic {
    let t = topics.get(name)
    if (!t) {
      t = { epoch: randomUUID(), partitions: Array.from({ length: options.partitions }, () => ({ records: [], base: 0 })), readers: new Set() }
      topics.set(name, t)
    }
    return t
  }

  function trim (name: string, p: number, part: Partition) {
    if (part.records.length <= RETENTION) return
    let floor = part.base + part.records.length - RETENTION
    for (const [group, offsets] of committed) if (group.startsWith(`${name}\u0000`)) floor = Math.min(floor, offsets[p] ?? 0)
    if (floor > part.base) {
      part.records.splice(0, floor - part.base)
      part.base = floor
    }
  }

  class Reader implements Consumer {
    private stopped = false
    /** per partition: whether a run dispatches its records now (one at a time, in offset order) */
    private readonly busy: boolean[]
    /** per partition: a handler rejected (only while stopping): the partition reads no more */
    private readonly halted: boolean[]
    private readonly runs = new Set<Promise<void>>()
    private readonly handleBatch: ReturnType<typeof batchHandler>
    // One reader owns its partitions until it stops: no rebalances in process.
    private readonly control: BatchControl
    constructor (readonly spec: ConsumerSpec & { topic: string }, private readonly t: Topic, private readonly next: number[]) {
      this.handleBatch = batchHandler(spec)
      const reader = this
      this.control = { get revoked () { return reader.stopped }, heartbeat: async () => {} }
      this.busy = t.partitions.map(() => false)
      this.halted = t.partitions.map(() => false)
      t.readers.add(this)
      t.partitions.forEach((_p, i) => this.drain(i, 'fetch'))
    }

    /**
     * A record was appended to partition `p`. A broadcast reader idle on it dispatches it now, in
     * the produce call (the lane); a shared reader reads it on the next turn, with whatever else
     * is appended meanwhile (a batch, as a Kafka fetch would return it).
     */
    appended (p: number) {
      if (this.spec.mode === 'broadcast') this.drain(p, 'producer')
      else queueMicrotask(() => this.drain(p, 'fetch'))
    }

    /** Starts dispatching what partition `p` holds past this reader's place, unless that runs already. */
    private drain (p: number, via: keyof BroadcastTaken) {
      const part = this.t.partitions[p]
      if (this.stopped || this.halted[p] || this.busy[p] || this.next[p] - part.base >= part.records.length) return
      this.busy[p] = true
      const run = this.run(p, via)
      this.runs.add(run)
      void run.then(() => this.runs.delete(run))
    }

    private async run (p: number, via: keyof BroadcastTaken) {
      const part = this.t.partitions[p]
      try {
        // the first batch came as `via` says; what was appended while it ran is read after it
        for (let from = via; !this.stopped; from = 'fetch') {
          const index = this.next[p] - part.base
          if (index >= part.records.length) return
          // Everything that arrived since the last batch, as a Kafka fetch would return it.
          const start = Math.max(index, 0)
          const records = part.records.slice(start, start + MAX_BATCH)
          if (this.spec.mode === 'broadcast') broadcastTaken[from] += records.length
          try {
            await this.handleBatch(records, this.control)
          } catch {
            this.halted[p] = true
            return // only while stopping: the records stay unread, as uncommitted Kafka offsets would
          }
          this.next[p] = Number(records[records.length - 1].offset) + 1
          trim(this.spec.topic, p, part)
        }
      } finally {
        this.busy[p] = false // at once when the run ends: a record appended after it starts a new one
      }
    }

    /** Same group names as the Kafka bus: shared → prefix + name, broadcast → … + instance id. */
    lag (): ConsumerLag[] {
      const group = `${options.topicPrefix}${this.spec.name}${this.spec.mode === 'broadcast' ? `.${options.instanceId}` : ''}`
      return this.t.partitions.map((part, partition) => ({ group, consumer: this.spec.name, mode: this.spec.mode, topic: this.spec.topic, partition, next: this.next[partition], lag: Math.max(0, part.base + part.records.length - this.next[partition]) }))
    }

    async stop () {
      this.stopped = true
      running.delete(this)
      this.t.readers.delete(this)
      await Promise.all(this.runs)
    }
  }

  return {
    kind: 'embedded',
    broadcastTaken,
    async ensureTopics (names) { for (const name of names) topic(name) },
    async produce (name, key, value): Promise<ProduceResult> {
      if (closed) throw new Error('event bus is closed')
      const t = topic(name)
      const p = partitionFor(key, t.partitions.length)
      const part = t.partitions[p]
      const offset = String(part.base + part.records.length)
      part.records.push({ topic: name, partition: p, offset, epoch: `${t.epoch}:${p}`, key, value: Buffer.isBuffer(value) ? value : Buffer.from(value), timestamp: Date.now() })
      for (const reader of t.readers) reader.appended(p)
      return { topic: name, partition: p, offset, epoch: `${t.epoch}:${p}` }
    },
    async consume (spec) {
      if (closed) throw new Error('event bus is closed')
      // one reader per topic: in process, several topics read by one consumer are just that
      const readers = topicsOf(spec).map((name) => {
        const t = topic(name)
        let next: number[]
        if (spec.mode === 'shared') {
          const group = `${name}\u0000${options.topicPrefix}${spec.name}`
          next = committed.get(group) ?? t.partitions.map((part) => part.base)
          committed.set(group, next)
        } else {
          next = t.partitions.map((part) => part.base + part.records.length)
        }
        const reader = new Reader({ ...spec, topic: name } as ConsumerSpec & { topic: string }, t, next)
        running.add(reader)
        return reader
      })
      return { async stop () { await Promise.all(readers.map((r) => r.stop())) } }
    },
    async ping () { if (closed) throw new Error('event bus is closed') },
    async lag (only) { return [...running].filter((r) => !only || r.spec.mode === only).flatMap((r) => r.lag()) },
    async close () {
      closed = true
      await Promise.all([...running].map((r) => r.stop()))
    }
  }
}
