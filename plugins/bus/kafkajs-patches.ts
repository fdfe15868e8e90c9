// Fixes to kafkajs 2.2.4 (unmaintained since 2023) applied at load, in one place.
//
// RequestQueue.scheduleCheckPendingRequests: with no request pending and no broker throttling, it
// schedules a timer at a negative delay (1 ms) that re-schedules itself for as long as the
// connection lives: ~1,800 event-loop wake-ups a second per process, most of an idle instance's
// CPU. Upstream: tulios/kafkajs#1556 (issue), #1667 (the fix, never released). Here: schedule a
// check only when something is pending, or when a throttle is still to end.
//
// RequestQueue.scheduleRequestTimeoutCheck: every connection looks for timed-out requests every
// 100 ms for as long as it lives (a consumer always has a long-poll fetch in flight): with ten
// connections, 100 timer callbacks a second, the largest share of an idle instance's CPU. Here:
// every tenth of the request timeout (500 ms for switchboard's 5 s), within [100 ms, 1 s], and
// one timer for all the connections of the process, not one each; a stalled request still fails
// within 10 % of its timeout.
//
// ConsumerGroup.fetch: a consumer asks the broker for its fetch with one fixed minBytes and
// maxWaitTime. switchboard's answer the moment one record arrives (minBytes 1, a long wait for
// when there is none), the latency the delivery path needs; but a busy shared consumer (the store,
// cache and recovery log) then fetches, writes and commits a few records at a time, as often as
// its loop turns. Here a group given a consume linger (`lingerConsumerGroup`) asks, after a fetch
// that brought records, for LINGER_MIN_BYTES or its linger, whichever comes first (Kafka's
// fetch.min.bytes and fetch.max.wait.ms): the broker gathers a larger batch, and an idle
// consumer's first record still comes at once. The consume-side twin of the producer's linger.
//
// ConsumerGroup.joinAndSync: after a crash (a broker restart, a lost coordinator) kafkajs restarts
// the consumer with a new ConsumerGroup, which joins as a new member. The coordinator reloaded the
// group with the old member in it and holds the rebalance until that member's session expires
// (10 s): for that long the consumer fetches nothing, and live delivery stalls with every socket
// open. Here a restarted consumer rejoins as the member it was, and the rebalance completes at
// once; a member id the coordinator no longer knows is answered UNKNOWN_MEMBER_ID, and kafkajs then
// joins as a new member, as it would have.
//
// ConsumerGroup.fetch: when every partition the consumer holds on a broker is paused, kafkajs
// sleeps its whole maxWaitTime (3 s here) before it looks again, and a resume in the meantime waits
// for the end of the sleep: a selective fanout (docs/scaling.md) that resumes a partition for a
// first subscriber would deliver its first events up to 3 s late. Here that sleep ends at once when
// the consumer resumes a partition; the checks the fetch makes first are kept.
//
// The patches reach into private modules, so they hold for one release only: package.json pins it,
// and loading this file with any other kafkajs throws (assertKafkajsVersion).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** The kafkajs release these patches were written against (package.json pins it exactly). */
export const KAFKAJS_VERSION = '2.2.4'

/**
 * Refuses a kafkajs other than the one patched: the patches replace methods of its private modules
 * (`kafkajs/src/...`), which another release may have moved, renamed or changed silently.
 */
export function assertKafkajsVersion (found: string): void {
  if (found !== KAFKAJS_VERSION) {
    throw new Error(`kafkajs ${found} is installed, but switchboard requires kafkajs ${KAFKAJS_VERSION} exactly: ` +
      'plugins/bus/kafkajs-patches.ts patches private modules of that release (kafkajs/src/...), which another version may have changed. ' +
      `Install kafkajs@${KAFKAJS_VERSION}, or check the patches against ${found} and update the pin.`)
  }
}

// before any patch is applied: a mismatch stops start-up here, with the reason
assertKafkajsVersion((require('kafkajs/package.json') as { version: string }).version)

interface RequestQueue {
  pending: unknown[]
  inflight: Map<number, { sentAt: number, requestTimeout: number, timeoutRequest (): void }>
  requestTimeout: number
  enforceRequestTimeout: boolean
  isConnected (): boolean
  destroy (): void
  throttledUntil: number
  throttleCheckTimeoutId: NodeJS.Timeout | null
  checkPendingRequests (): void
  scheduleCheckPendingRequests (): void
  scheduleRequestTimeoutCheck (): void
}

/** How often kafkajs re-checks a queue that is merely full (its CHECK_PENDING_REQUESTS_INTERVAL). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10

export const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueue }

RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests (this: RequestQueue) {
  if (this.throttleCheckTimeoutId) return
  const throttledFor = this.throttledUntil - Date.now()
  // nothing waits and nothing throttles: the next request or response checks the queue anyway
  if (this.pending.length === 0 && throttledFor <= 0) return
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null
    this.checkPendingRequests()
  }, throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL)
}

/** How often a connection looks for requests past their timeout: a tenth of it, within [100 ms, 1 s]. */
export function requestTimeoutCheckInterval (requestTimeout: number): number {
  return Math.min(1000, Math.max(100, Math.floor(requestTimeout / 10)))
}

/** The connections whose requests may time out, by check interval: one timer checks them all. */
const watches = new Map<number, { queues: Set<RequestQueue>, timer: NodeJS.Timeout }>()

function failTimedOut (queues: Set<RequestQueue>): void {
  const now = Date.now()
  for (const queue of queues) {
    queue.inflight.forEach((request) => {
      if (now - request.sentAt > request.requestTimeout) request.timeoutRequest()
    })
    if (!queue.isConnected()) queue.destroy()
  }
}

RequestQueue.prototype.scheduleRequestTimeoutCheck = function scheduleRequestTimeoutCheck (this: RequestQueue) {
  if (!this.enforceRequestTimeout) return
  this.destroy()
  const every = requestTimeoutCheckInterval(this.requestTimeout)
  let watch = watches.get(every)
  if (!watch) {
    const queues = new Set<RequestQueue>()
    watch = { queues, timer: setInterval(() => failTimedOut(queues), every) }
    watches.set(every, watch)
  }
  watch.queues.add(this)
}

const destroyQueue = RequestQueue.prototype.destroy
RequestQueue.prototype.destroy = function destroy (this: RequestQueue) {
  destroyQueue.call(this)
  for (const [every, watch] of watches) {
    if (watch.queues.delete(this) && watch.queues.size === 0) {
      clearInterval(watch.timer)
      watches.delete(every)
    }
  }
}

/** What a lingering fetch waits for at most: past this a batch gains nothing from waiting. */
export const LINGER_MIN_BYTES = 1024 * 1024

interface TopicPartitions { topic: string, partitions: number[] }

interface ConsumerGroup {
  groupId: string
  minBytes: number
  maxWaitTime: number
  /** the consumer's cluster: one object for the life of a kafkajs consumer, across its restarts */
  memberId: string | null
  fetch (nodeId: number): Promise<Array<{ isEmpty (): boolean }>>
  joinAndSync (): Promise<void>
  leave (): Promise<void>
  cluster: object & { refreshMetadataIfNecessary (): Promise<void> }
  subscriptionState: { assigned (): TopicPartitions[], active (): TopicPartitions[] }
  filterPartitionsByNode (nodeId: number, topicPartitions: TopicPartitions[]): TopicPartitions[]
  checkForStaleAssignment (): void
  recoverFromFetch (err: unknown): Promise<void>
  seekOffsets (topicPartitions: Array<{ topic: string, partitions: number[] }>): Promise<void>
  resume (topicPartitions: Array<{ topic: string, partitions?: number[] }>): void
}

const lingers = new Map<string, { ms: number, members: number }>()

/**
 * Gives the consumers of `groupId` in this process a consume linger of `ms` (0: none); returns the
 * function that takes it back when the consumer stops.
 */
export function lingerConsumerGroup (groupId: string, ms: number): () => void {
  if (ms <= 0) return () => {}
  const linger = lingers.get(groupId) ?? { ms, members: 0 }
  linger.ms = ms
  linger.members++
  lingers.set(groupId, linger)
  let released = false
  return () => {
    if (released) return
    released = true
    if (--linger.members === 0) lingers.delete(groupId)
  }
}

const configured = Symbol('configured fetch')
const busy = Symbol('last fetch brought records')
type Lingering = ConsumerGroup & { [configured]?: { minBytes: number, maxWaitTime: number }, [busy]?: boolean }

export const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: ConsumerGroup }

/** The fetch with the consume linger in front: what the next fetch asks for follows what the last one brought. */
export function lingeringFetch (fetch: ConsumerGroup['fetch']): ConsumerGroup['fetch'] {
  return async function (this: Lingering, nodeId: number) {
    const linger = lingers.get(this.groupId)
    // set from the values the consumer was made with each time, never saved and restored around
    // the call: fetches to several brokers may interleave
    const base = this[configured] ??= { minBytes: this.minBytes, maxWaitTime: this.maxWaitTime }
    const lingering = linger !== undefined && this[busy] === true
    this.minBytes = lingering ? LINGER_MIN_BYTES : base.minBytes
    this.maxWaitTime = lingering ? Math.min(linger.ms, base.maxWaitTime) : base.maxWaitTime
    const batches = await fetch.call(this, nodeId)
    this[busy] = batches.some((batch) => !batch.isEmpty())
    return batches
  }
}

/** The fetches sleeping because every partition of their broker is paused: a resume wakes them. */
const sleepers = new WeakMap<ConsumerGroup, Set<() => void>>()

/** True when the group holds partitions on `nodeId` and every one of them is paused: kafkajs would fetch nothing and sleep. */
function pausedOn (group: ConsumerGroup, nodeId: number): boolean {
  try {
    const held = group.filterPartitionsByNode(nodeId, group.subscriptionState.assigned()).filter((t) => t.partitions.length > 0)
    if (held.length === 0) return false
    const active = new Set(group.subscriptionState.active().flatMap(({ topic, partitions }) => partitions.map((p) => `${topic}/${p}`)))
    return held.every(({ topic, partitions }) => partitions.every((p) => !active.has(`${topic}/${p}`)))
  } catch {
    return false // metadata not known yet: kafkajs's own fetch deals with it
  }
}

/** The fetch with a wakeable sleep when every partition of the broker is paused (the checks before it as kafkajs makes them). */
export function wakingFetch (fetch: ConsumerGroup['fetch']): ConsumerGroup['fetch'] {
  return async function (this: ConsumerGroup, nodeId: number) {
    if (!pausedOn(this, nodeId)) return fetch.call(this, nodeId)
    try {
      await this.cluster.refreshMetadataIfNecessary()
      this.checkForStaleAssignment()
      // as kafkajs's fetch does before it looks for active partitions: seeks made while paused are
      // committed here (admin.setOffsets / resetOffsets pause every partition and rely on it)
      await this.seekOffsets(this.filterPartitionsByNode(nodeId, this.subscriptionState.assigned()))
    } catch (err) {
      await this.recoverFromFetch(err)
      return []
    }
    const waiting = sleepers.get(this) ?? new Set()
    sleepers.set(this, waiting)
    await new Promise<void>((resolve) => {
      const wake = () => { clearTimeout(timer); waiting.delete(wake); resolve() }
      const timer = setTimeout(wake, this.maxWaitTime)
      waiting.add(wake)
    })
    return []
  }
}

const resume = ConsumerGroup.prototype.resume
ConsumerGroup.prototype.resume = function (this: ConsumerGroup, topicPartitions) {
  resume.call(this, topicPartitions)
  for (const wake of [...sleepers.get(this) ?? []]) wake()
}

ConsumerGroup.prototype.fetch = lingeringFetch(wakingFetch(ConsumerGroup.prototype.fetch))

/** The member id each consumer (by its cluster object) last joined as; gone when it left its group. */
const lastMember = new WeakMap<object, string>()
const rejoined = Symbol('first join done')
type Rejoining = ConsumerGroup & { [rejoined]?: true }

/** joinAndSync that starts a restarted consumer's first join as the member it was (only that first join: after UNKNOWN_MEMBER_ID kafkajs clears the id and retries). */
export function rejoiningJoin (joinAndSync: ConsumerGroup['joinAndSync']): ConsumerGroup['joinAndSync'] {
  return async function (this: Rejoining) {
    if (!this[rejoined]) {
      this[rejoined] = true
      this.memberId ??= lastMember.get(this.cluster) ?? null
    }
    try {
      return await joinAndSync.call(this)
    } finally {
      if (this.memberId) lastMember.set(this.cluster, this.memberId)
    }
  }
}

const leave = ConsumerGroup.prototype.leave
ConsumerGroup.prototype.joinAndSync = rejoiningJoin(ConsumerGroup.prototype.joinAndSync)
ConsumerGroup.prototype.leave = async function (this: ConsumerGroup) {
  await leave.call(this)
  lastMember.delete(this.cluster)
}
