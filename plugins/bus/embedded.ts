// In-process event log with the Kafka semantics the rest relies on: keyed partitions, per-partition
// order, offsets as positions, consumer groups (`shared`) and per-instance readers (`broadcast`).
import { randomUUID } from 'node:crypto'
import { batchHandler, topicsOf, type BatchControl, type BusOptions, type BusRecord, type Consumer, type ConsumerLag, type ConsumerSpec, type EventBus, type ProduceResult } from './bus.ts'

interface Partition { records: BusRecord[], base: number, waiters: Set<() => void> }
interface Topic { epoch: string, partitions: Partition[] }

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
  let closed = false

  function topic (name: string): Topic {
    let t = topics.get(name)
    if (!t) {
      t = { epoch: randomUUID(), partitions: Array.from({ length: options.partitions }, () => ({ records: [], base: 0, waiters: new Set() })) }
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
    private readonly loops: Promise<void>[]
    private readonly handleBatch: ReturnType<typeof batchHandler>
    // One reader owns its partitions until it stops: no rebalances in process.
    private readonly control: BatchControl
    constructor (private readonly spec: ConsumerSpec & { topic: string }, private readonly t: Topic, private readonly next: number[]) {
      this.handleBatch = batchHandler(spec)
      const reader = this
      this.control = { get revoked () { return reader.stopped }, heartbeat: async () => {} }
      this.loops = t.partitions.map((_p, i) => this.loop(i))
    }

    private async loop (p: number) {
      const part = this.t.partitions[p]
      while (!this.stopped) {
        const index = this.next[p] - part.base
        if (index >= part.records.length) {
          await new Promise<void>((resolve) => { part.waiters.add(resolve) })
          continue
        }
        // Everything that arrived since the last batch, as a Kafka fetch would return it.
        const start = Math.max(index, 0)
        const records = part.records.slice(start, start + MAX_BATCH)
        try {
          await this.handleBatch(records, this.control)
        } catch {
          return // only while stopping: the records stay unread, as uncommitted Kafka offsets would
        }
        this.next[p] = Number(records[records.length - 1].offset) + 1
        trim(this.spec.topic, p, part)
      }
    }

    wake () { for (const part of this.t.partitions) for (const w of part.waiters) w() }

    /** Same group names as the Kafka bus: shared → prefix + name, broadcast → … + instance id. */
    lag (): ConsumerLag[] {
      const group = `${options.topicPrefix}${this.spec.name}${this.spec.mode === 'broadcast' ? `.${options.instanceId}` : ''}`
      return this.t.partitions.map((part, partition) => ({ group, topic: this.spec.topic, partition, lag: Math.max(0, part.base + part.records.length - this.next[partition]) }))
    }

    async stop () {
      this.stopped = true
      running.delete(this)
      this.wake()
      await Promise.all(this.loops)
    }
  }

  return {
    kind: 'embedded',
    async ensureTopics (names) { for (const name of names) topic(name) },
    async produce (name, key, value): Promise<ProduceResult> {
      if (closed) throw new Error('event bus is closed')
      const t = topic(name)
      const p = partitionFor(key, t.partitions.length)
      const part = t.partitions[p]
      const offset = String(part.base + part.records.length)
      part.records.push({ topic: name, partition: p, offset, epoch: `${t.epoch}:${p}`, key, value: Buffer.isBuffer(value) ? value : Buffer.from(value), timestamp: Date.now() })
      const waiters = [...part.waiters]
      part.waiters.clear()
      for (const w of waiters) w()
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
    async lag () { return [...running].flatMap((r) => r.lag()) },
    async close () {
      closed = true
      await Promise.all([...running].map((r) => r.stop()))
    }
  }
}
