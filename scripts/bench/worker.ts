// A worker thread holding a share of the subscribers: it times every delivery into an HDR histogram
// and tallies sequence numbers per subscriber, reporting to the main thread as it goes.
import { parentPort, workerData } from 'node:worker_threads'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { ChannelTally, SeqSet } from './accounting.ts'
import { openSubscriberHonouringShedding, type Subscriber } from './clients.ts'
import { createHistogram, encode } from './histogram.ts'
import { nowMicros, type Stamp } from './payload.ts'
import type { TransportKind } from './options.ts'

export interface WorkerSetup {
  kind: TransportKind
  url: string
  token?: string
  channels: string[]
  /** channel index of each subscriber this worker holds */
  assignments: number[]
  reportEveryMs: number
  /** deliveries slower than this (µs) are counted apart: the latency objective (--slo-p99) */
  sloMicros: number
}

/** Cumulative; `overSlo` counts timed deliveries slower than the objective. */
export interface Counters { delivered: number, duplicates: number, outOfOrder: number, misrouted: number, disconnected: number, overSlo: number }
export type WorkerReport = Counters & { type: 'report', histogram: string, elu: number }
/** In the final report `delivered` counts acknowledged posts received (each once); `unacknowledged`, posts received whose POST failed. */
export type WorkerFinal = Counters & { type: 'final', histogram: string, lost: number, unacknowledged: number, lastDeliveryAt: number, eventLoopDelayP99Ms: number, eventLoopDelayMaxMs: number, maxElu: number, busyIntervals: number, intervals: number }
export type WorkerReady = { type: 'ready', connected: number, failed: number, firstError?: string }
/** Per channel: the bitmap of acknowledged sequence numbers and how many there are. */
export type FinishRequest = { type: 'finish', acked: Array<{ bits: Uint8Array, count: number }> }

const CONNECT_AT_ONCE = 100

const setup = workerData as WorkerSetup
const port = parentPort!
const counters: Counters = { delivered: 0, duplicates: 0, outOfOrder: 0, misrouted: 0, disconnected: 0, overSlo: 0 }
const histogram = createHistogram()
const tallies = setup.assignments.map(() => new ChannelTally())
const subscribers: Subscriber[] = []
const delay = monitorEventLoopDelay({ resolution: 10 })
let lastElu = performance.eventLoopUtilization()
let maxElu = 0
let intervals = 0
let busyIntervals = 0 // report intervals the thread was at least 90% busy
let lastDeliveryAt = 0

function receive (index: number, stamp: Stamp): void {
  if (stamp.channel !== setup.assignments[index]) { counters.misrouted++; return }
  const outcome = tallies[index].record(stamp.seq)
  if (outcome === 'duplicate') { counters.duplicates++; return }
  if (outcome === 'out-of-order') counters.outOfOrder++
  counters.delivered++
  lastDeliveryAt = nowMicros()
  const latency = Math.max(1, lastDeliveryAt - stamp.sentAt)
  histogram.recordValue(latency)
  if (latency > setup.sloMicros) counters.overSlo++
}

async function connectAll (): Promise<WorkerReady> {
  let next = 0
  let failed = 0
  let firstError: string | undefined
  const opener = async () => {
    while (next < setup.assignments.length) {
      const index = next++
      const channel = setup.assignments[index]
      try {
        subscribers[index] = await openSubscriberHonouringShedding({
          kind: setup.kind,
          url: setup.url,
          token: setup.token,
          channel: setup.channels[channel],
          onStamp: (stamp) => receive(index, stamp),
          onLost: () => { counters.disconnected++ }
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
  const message: WorkerReport = { type: 'report', ...counters, histogram: encode(histogram), elu: intervalElu() }
  histogram.reset() // reports carry interval histograms; the main thread merges them
  port.postMessage(message)
}

function finish ({ acked }: FinishRequest): void {
  clearInterval(timer)
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
})

const ready = await connectAll()
delay.enable()
lastElu = performance.eventLoopUtilization()
const timer = setInterval(report, setup.reportEveryMs)
port.postMessage(ready)
