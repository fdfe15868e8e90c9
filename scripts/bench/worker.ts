// A worker thread holding a share of the subscribers: it times every delivery into an HDR histogram
// and tallies sequence numbers per subscriber, reporting to the main thread as it goes.
import { parentPort, workerData } from 'node:worker_threads'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { ChannelTally, SeqSet } from './accounting.ts'
import { openSubscriber, openSubscriberHonouringShedding, type Subscriber } from './clients.ts'
import { createHistogram, encode } from './histogram.ts'
import { decodeContent, nowMicros, type Position, type Stamp } from './payload.ts'
import type { TransportKind } from './options.ts'

export interface WorkerSetup {
  kind: TransportKind
  /** WebSocket URL of each instance */
  urls: string[]
  /** API base URL of each instance (history reloads) */
  apiUrls: string[]
  token?: string
  channels: string[]
  /** channel index of each subscriber this worker holds */
  assignments: number[]
  /** instance each subscriber connects to first */
  instances: number[]
  /**
   * --fail instance: a subscriber whose connection ends comes back with jitter to an instance up and
   * resubscribes with `since`; on `recovered: false` it reloads the channel's history over HTTP
   */
  resubscribe?: boolean
  reportEveryMs: number
  /** deliveries slower than this (µs) are counted apart: the latency objective (--slo-p99) */
  sloMicros: number
}

/**
 * Cumulative; `overSlo` counts timed deliveries slower than the objective. With resubscribe:
 * `reconnected` subscribers came back, `recovered` of them with a replay, `reloaded` through a
 * history reload that held `reloadedDeliveries` messages the socket had not seen; `notBack` gave up.
 */
export interface Counters { delivered: number, duplicates: number, outOfOrder: number, misrouted: number, disconnected: number, overSlo: number, reconnected: number, recovered: number, reloaded: number, reloadedDeliveries: number, notBack: number }
/** `steady`: with resubscribe, the interval's deliveries to subscribers never disconnected (the survivors' own clients). */
export type WorkerReport = Counters & { type: 'report', histogram: string, steady?: string, elu: number }
/** In the final report `delivered` counts acknowledged posts received (each once); `unacknowledged`, posts received whose POST failed. */
export type WorkerFinal = Counters & { type: 'final', histogram: string, steady?: string, liveAgainMs: number[], lost: number, unacknowledged: number, lastDeliveryAt: number, eventLoopDelayP99Ms: number, eventLoopDelayMaxMs: number, maxElu: number, busyIntervals: number, intervals: number }
export type WorkerReady = { type: 'ready', connected: number, failed: number, firstError?: string }
/** Per channel: the bitmap of acknowledged sequence numbers and how many there are. */
export type FinishRequest = { type: 'finish', acked: Array<{ bits: Uint8Array, count: number }> }
/** An instance is about to be killed (--fail instance): reconnect elsewhere. */
export type InstanceDown = { type: 'down', instance: number }

const CONNECT_AT_ONCE = 100
/** A reconnect waits 0.25 s + up to this much (jitter, doubled on each failed attempt), as a client should. */
const RECONNECT_JITTER_MS = 2000
const RECONNECT_TRIES = 8
/** History pages (100 messages) a reload reads back at most to reach what the socket had seen. */
const RELOAD_PAGES = 100

const setup = workerData as WorkerSetup
const port = parentPort!
const counters: Counters = { delivered: 0, duplicates: 0, outOfOrder: 0, misrouted: 0, disconnected: 0, overSlo: 0, reconnected: 0, recovered: 0, reloaded: 0, reloadedDeliveries: 0, notBack: 0 }
const histogram = createHistogram()
const tallies = setup.assignments.map(() => new ChannelTally())
const subscribers: Subscriber[] = []
// resubscribe state, per subscriber: where it stands, whether it was ever disconnected, what
// arrived live while its history reloads, and how long each reconnect took to be live again
const steady = setup.resubscribe ? createHistogram() : undefined
const positions: Array<Position | undefined> = []
const everLost: boolean[] = []
const reloading: Array<Stamp[] | undefined> = []
const down = new Set<number>()
const liveAgainMs: number[] = []
let finished = false
const delay = monitorEventLoopDelay({ resolution: 10 })
let lastElu = performance.eventLoopUtilization()
let maxElu = 0
let intervals = 0
let busyIntervals = 0 // report intervals the thread was at least 90% busy
let lastDeliveryAt = 0

function receive (index: number, stamp: Stamp): void {
  if (stamp.channel !== setup.assignments[index]) { counters.misrouted++; return }
  const queue = reloading[index]
  if (queue) { queue.push(stamp); return } // after the reload, as a client merges them
  const outcome = tallies[index].record(stamp.seq)
  if (outcome === 'duplicate') { counters.duplicates++; return }
  if (outcome === 'out-of-order') counters.outOfOrder++
  timeDelivery(index, stamp)
}

function timeDelivery (index: number, stamp: Stamp): void {
  counters.delivered++
  lastDeliveryAt = nowMicros()
  const latency = Math.max(1, lastDeliveryAt - stamp.sentAt)
  histogram.recordValue(latency)
  if (steady && !everLost[index]) steady.recordValue(latency)
  if (latency > setup.sloMicros) counters.overSlo++
}

const subscriberOptions = (index: number, instance: number) => {
  let comingBack = false // a socket may report its end twice (error, then close): one reconnect
  return {
    kind: setup.kind,
    url: setup.urls[instance],
    token: setup.token,
    channel: setup.channels[setup.assignments[index]],
    onStamp: (stamp: Stamp) => receive(index, stamp),
    onLost: () => {
      counters.disconnected++
      if (!setup.resubscribe || finished || comingBack) return
      comingBack = true
      void reconnect(index)
    },
    ...(setup.resubscribe ? { onPosition: (position: Position) => { positions[index] = position } } : {})
  }
}

/** Back with jitter on an instance up, resubscribed from the last position seen (docs/protocol.md). */
async function reconnect (index: number): Promise<void> {
  const lostAt = Date.now()
  everLost[index] = true
  for (let attempt = 0; attempt < RECONNECT_TRIES; attempt++) {
    await sleep(250 + Math.random() * RECONNECT_JITTER_MS * 2 ** Math.min(attempt, 3))
    if (finished) return
    const up = setup.urls.map((_, i) => i).filter((i) => !down.has(i))
    const instance = up[Math.floor(Math.random() * up.length)]
    const seenBefore = tallies[index].highest
    let answer: { position: Position | null, recovered: boolean } | undefined
    try {
      subscribers[index] = await openSubscriber({
        ...subscriberOptions(index, instance),
        since: positions[index],
        onSubscribed: (a) => {
          answer = a
          if (a.position && !positions[index]) positions[index] = a.position
          if (!a.recovered) reloading[index] = [] // live frames wait for the reload
        }
      })
    } catch {
      continue
    }
    counters.reconnected++
    if (answer?.recovered) counters.recovered++
    else {
      counters.reloaded++
      await reload(index, setup.apiUrls[instance], seenBefore).catch(() => {})
      const queued = reloading[index] ?? []
      reloading[index] = undefined
      // events that came live while reloading may be in the page too: dropped, as a client does
      for (const stamp of queued) if (!tallies[index].seen.has(stamp.seq)) receive(index, stamp)
    }
    liveAgainMs.push(Date.now() - lostAt)
    return
  }
  if (!finished) counters.notBack++
}

/**
 * `recovered: false`: the channel's history, newest first, paged back to what the socket had seen
 * (`seenBefore`); the messages it had not seen count as delivered now, oldest first.
 */
async function reload (index: number, apiUrl: string, seenBefore: number): Promise<void> {
  const channel = setup.assignments[index]
  const found: Stamp[] = []
  let before: string | null = null
  for (let page = 0; page < RELOAD_PAGES; page++) {
    const res = await fetch(`${apiUrl}/api/channels/${encodeURIComponent(setup.channels[channel])}/messages?limit=100${before ? `&before=${encodeURIComponent(before)}` : ''}`, { headers: setup.token ? { authorization: `Bearer ${setup.token}` } : {} })
    if (!res.ok) throw new Error(`history answered ${res.status}`)
    const body = await res.json() as { messages: Array<{ content?: string }>, nextBefore: string | null }
    let reachedSeen = false
    for (const message of body.messages) {
      const stamp = typeof message.content === 'string' ? decodeContent(message.content) : undefined
      if (!stamp || stamp.channel !== channel) continue
      found.push(stamp)
      if (stamp.seq <= seenBefore) reachedSeen = true
    }
    if (reachedSeen || !body.nextBefore) break
    before = body.nextBefore
  }
  found.sort((a, b) => a.seq - b.seq)
  for (const stamp of found) {
    if (tallies[index].record(stamp.seq) === 'duplicate') continue // the page overlaps what it had: not a duplicate delivery
    counters.reloadedDeliveries++
    timeDelivery(index, stamp)
  }
}

async function connectAll (): Promise<WorkerReady> {
  let next = 0
  let failed = 0
  let firstError: string | undefined
  const opener = async () => {
    while (next < setup.assignments.length) {
      const index = next++
      try {
        subscribers[index] = await openSubscriberHonouringShedding({
          ...subscriberOptions(index, setup.instances[index]),
          ...(setup.resubscribe ? { onSubscribed: ({ position }) => { if (position) positions[index] = position } } : {})
        }, (seconds) => sleep(seconds * 1000))
      } catch (err) {
        failed++
        firstError ??= (err as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONNECT_AT_ONCE, setup.assignments.length) }, opener))
  return { type: 'ready', connected: setup.assignments.length - failed, failed, firstError }
}

function intervalElu (): number {
  const now = performance.eventLoopUtilization()
  const elu = performance.eventLoopUtilization(now, lastElu).utilization
  lastElu = now
  maxElu = Math.max(maxElu, elu)
  intervals++
  if (elu >= 0.9) busyIntervals++
  return elu
}

function report (): void {
  const message: WorkerReport = { type: 'report', ...counters, histogram: encode(histogram), ...(steady ? { steady: encode(steady) } : {}), elu: intervalElu() }
  histogram.reset() // reports carry interval histograms; the main thread merges them
  steady?.reset()
  port.postMessage(message)
}

function finish ({ acked }: FinishRequest): void {
  clearInterval(timer)
  finished = true
  let lost = 0
  let unacknowledged = 0
  let delivered = 0
  const ackedSets = acked.map((a) => ({ set: SeqSet.from(a.bits), count: a.count }))
  tallies.forEach((tally, i) => {
    const { set, count } = ackedSets[setup.assignments[i]]
    const r = tally.reconcile(set, count)
    lost += r.lost
    unacknowledged += r.unacknowledged
    delivered += r.delivered
  })
  for (const s of subscribers) s?.close()
  delay.disable()
  const final: WorkerFinal = {
    type: 'final',
    ...counters,
    delivered,
    histogram: encode(histogram),
    ...(steady ? { steady: encode(steady) } : {}),
    liveAgainMs,
    lost,
    unacknowledged,
    lastDeliveryAt,
    maxElu: Math.max(maxElu, intervalElu()),
    busyIntervals,
    intervals,
    eventLoopDelayP99Ms: delay.percentile(99) / 1e6,
    eventLoopDelayMaxMs: delay.max / 1e6
  }
  port.postMessage(final)
  port.close()
}

port.on('message', (message: { type: string }) => {
  if (message.type === 'finish') finish(message as FinishRequest)
  if (message.type === 'down') down.add((message as InstanceDown).instance)
})

const ready = await connectAll()
delay.enable()
lastElu = performance.eventLoopUtilization()
const timer = setInterval(report, setup.reportEveryMs)
port.postMessage(ready)
