// One broadcast consumer's dispatch, per partition, in offset order and once. Records reach it two
// ways: fetched from the log by the consumer, or offered by this instance's producer the moment
// the log acknowledged them (acks = all: they are in the log). The second way saves the delivery
// path a round trip to the broker and a turn of the event loop. Whichever way a record comes first
// dispatches it; the other finds it taken and skips it.
// A selective consumer (docs/scaling.md) reads only some partitions: a paused partition takes
// nothing by either way, and a resumed one starts again where the consumer reads it from.
import type { BatchControl, BusRecord } from './bus.ts'

export interface LaneOptions {
  /** Hands records (one partition, offset order) to the consumer's handlers. */
  dispatch (records: BusRecord[], control: BatchControl): Promise<void>
  /** The control of records the producer offered (the fetched ones come with the fetch's). */
  producerControl: BatchControl
  /** Counts the records taken, by how they came (shared by the bus's lanes). */
  taken: BroadcastTaken
  /** Called once records are dispatched: `next` is the offset after them. */
  done (partitionKey: string, next: string): void
  /** An offered batch whose handlers failed (only while stopping: the registry retries otherwise). */
  failed (err: unknown, records: BusRecord[]): void
}

/**
 * Records broadcast consumers dispatched, by how they came: fetched from the log, or from this
 * instance's producer; `paused`: records fetched for a partition paused meanwhile (a fetch in
 * flight when it paused), dropped undispatched.
 */
export interface BroadcastTaken { fetch: number, producer: number, paused?: number }

export class BroadcastLane {
  /** per topic/partition: its epoch and the offset after the last record taken for dispatch */
  readonly #next = new Map<string, { epoch: string, next: bigint }>()
  /** per epoch: the offset the consumer reads it from without a break (every record from there on is dispatched) */
  readonly #first = new Map<string, string>()
  /** topic/partitions a selective consumer does not read now: nothing of them is taken */
  readonly #paused = new Set<string>()
  /** per topic/partition: the dispatch in progress, which the next one waits for */
  readonly #tail = new Map<string, Promise<void>>()
  readonly #options: LaneOptions

  constructor (options: LaneOptions) {
    this.#options = options
  }

  /**
   * The consumer reads the partition from `offset` (a join or a restart) in `epoch` (the partition's
   * history, as BusRecord): nothing below it is taken again.
   */
  start (partitionKey: string, epoch: string, offset: string) {
    const from = BigInt(offset)
    if (!this.#first.has(epoch) && !this.#paused.has(partitionKey)) this.#first.set(epoch, offset)
    const place = this.#next.get(partitionKey)
    if (!place || place.epoch !== epoch || from > place.next) this.#next.set(partitionKey, { epoch, next: from })
  }

  /**
   * A selective consumer stops reading the partition (`epoch`): nothing of it is taken until it
   * resumes, and nothing is proven of it meanwhile (firstOffset forgets it).
   */
  pause (partitionKey: string, epoch: string | undefined) {
    this.#paused.add(partitionKey)
    if (epoch !== undefined) this.#first.delete(epoch)
    const place = this.#next.get(partitionKey)
    if (place) this.#first.delete(place.epoch)
  }

  /**
   * A selective consumer reads the partition again from `offset` (the log's end when it resumed):
   * every record from there on is dispatched, none before it that was not already.
   */
  resume (partitionKey: string, epoch: string, offset: string) {
    this.#paused.delete(partitionKey)
    this.#first.set(epoch, offset)
    this.#next.set(partitionKey, { epoch, next: BigInt(offset) })
  }

  /** False while a selective consumer does not read the partition. */
  reads (partitionKey: string): boolean { return !this.#paused.has(partitionKey) }

  /**
   * The offset from which this lane dispatches every record of the partition `epoch` without a
   * break (where it first read it, or resumed it last), or undefined when it does not read it.
   */
  firstOffset (epoch: string): string | undefined { return this.#first.get(epoch) }

  /**
   * Records the consumer fetched: dispatches those not taken yet, after what is in progress.
   * Records of another epoch (the cluster was re-created) start the partition's count again.
   * Rejects as their handlers do (kafkajs then delivers them again).
   */
  async fetched (partitionKey: string, records: BusRecord[], control: BatchControl): Promise<void> {
    if (this.#paused.has(partitionKey)) {
      this.#options.taken.paused = (this.#options.taken.paused ?? 0) + records.length
      return
    }
    const place = this.#next.get(partitionKey)
    const fresh = !place || place.epoch !== records[0].epoch ? records : records.filter((r) => BigInt(r.offset) >= place.next)
    if (fresh.length === 0) return
    this.#options.taken.fetch += fresh.length
    await this.#take(partitionKey, fresh, control)
  }

  /**
   * Records this instance's producer appended to one partition, in offset order. Taken only when
   * they are exactly what the partition's dispatch needs next: the consumer has started on the
   * partition, in the same epoch, and no other instance's record sits between. Otherwise the fetch
   * brings them.
   */
  offer (partitionKey: string, records: BusRecord[]): boolean {
    const place = this.#next.get(partitionKey)
    if (this.#paused.has(partitionKey) || !place || place.epoch !== records[0].epoch || BigInt(records[0].offset) !== place.next) return false
    this.#options.taken.producer += records.length
    this.#take(partitionKey, records, this.#options.producerControl).catch((err: unknown) => this.#options.failed(err, records))
    return true
  }

  #take (partitionKey: string, records: BusRecord[], control: BatchControl): Promise<void> {
    const place = { epoch: records[0].epoch, next: BigInt(records[records.length - 1].offset) + 1n }
    this.#next.set(partitionKey, place)
    const run = async () => {
      try {
        await this.#options.dispatch(records, control)
      } catch (err) {
        // nothing taken since: the consumer may take these again when they are delivered again
        if (this.#next.get(partitionKey) === place) this.#next.set(partitionKey, { epoch: place.epoch, next: BigInt(records[0].offset) })
        throw err
      }
      this.#options.done(partitionKey, place.next.toString())
    }
    const previous = this.#tail.get(partitionKey)
    const current = previous ? previous.then(run) : run()
    const tail = current.catch(() => {})
    this.#tail.set(partitionKey, tail)
    void tail.then(() => { if (this.#tail.get(partitionKey) === tail) this.#tail.delete(partitionKey) })
    return current
  }
}
