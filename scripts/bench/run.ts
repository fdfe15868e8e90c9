// One benchmark step: subscribers in worker threads, posts at the rate for the duration, a drain,
// then exact accounting and the merged latency histogram.
import { randomBytes } from 'node:crypto'
import { setTimeout as wait } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import type { Pool } from 'undici'
import { createHistogram, mergeInto, summarize } from './histogram.ts'
import { openPosterPool, startPosting } from './poster.ts'
import { nowMicros } from './payload.ts'
import { openTarget } from './target.ts'
import { Progress } from './report.ts'
import type { BenchOptions, TransportKind } from './options.ts'
import type { FinishRequest, WorkerFinal, WorkerReady, WorkerReport, WorkerSetup } from './worker.ts'
import type { SecondOfLatency, StepResult } from './result.ts'
import type { Stopped } from './serve.ts'

// Worker threads do not inherit tsx's loader hooks: the worker registers them before loading worker.ts.
const WORKER = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}) })`
const REPORT_EVERY_MS = 250
/** Saturated: busy intervals or late posts above this share (a single one can be another process's doing). */
const SATURATED_SHARE = 0.02

export async function runStep (options: BenchOptions, transport: TransportKind, rate: number): Promise<StepResult> {
  const target = await openTarget(options, transport)
  const runId = randomBytes(3).toString('hex')
  const channels = Array.from({ length: options.channels }, (_, i) => `bench-${runId}-${i}`)
  const subscribers = channels.map((_, c) => Math.floor(options.connections / options.channels) + (c < options.connections % options.channels ? 1 : 0))
  const workerCount = Math.min(options.workers, options.connections)
  const workers: Worker[] = []
  let pool: Pool | undefined
  try {
    // Subscriber i listens to channel i mod C; worker w holds subscribers w, w + W, w + 2W, …
    const setups: WorkerSetup[] = Array.from({ length: workerCount }, () => ({ kind: transport, url: target.wsUrl, token: options.token, channels, assignments: [], reportEveryMs: REPORT_EVERY_MS, sloMicros: options.sloP99 * 1000 }))
    for (let i = 0; i < options.connections; i++) setups[i % workerCount].assignments.push(i % options.channels)
    const reports: Array<WorkerReport | undefined> = setups.map(() => undefined)
    const total = createHistogram()
    const window = createHistogram()
    let onReport = () => {}
    const ready = setups.map((setup, w) => {
      const worker = new Worker(WORKER, { eval: true, workerData: setup })
      workers.push(worker)
      worker.on('message', (m: WorkerReport | WorkerReady | WorkerFinal) => {
        if (m.type !== 'report') return
        reports[w] = m
        mergeInto(total, m.histogram)
        mergeInto(window, m.histogram)
        onReport()
      })
      return new Promise<WorkerReady>((resolve, reject) => {
        worker.on('message', (m: { type: string }) => { if (m.type === 'ready') resolve(m as WorkerReady) })
        worker.once('error', reject)
        worker.once('exit', (code) => reject(new Error(`worker ${w} exited (code ${code}) before it was ready`)))
      })
    })
    const connected = await Promise.all(ready)
    const failed = connected.reduce((n, r) => n + r.failed, 0)
    if (failed > 0) throw new Error(`${failed} of ${options.connections} subscribers could not connect to ${target.wsUrl}: ${connected.find((r) => r.firstError)?.firstError}`)

    // at most one post per channel is in flight (poster.ts), so that many connections are opened now
    pool = await openPosterPool(target.apiUrl, options.concurrency, Math.min(options.concurrency, channels.length))
    if (options.warmup > 0) {
      // Unstamped posts at the step's rate (receivers ignore them), answered before measuring; then
      // a second for their last deliveries, which would only be ignored too.
      const warm = startPosting({ pool, request: target.post, channels, rate, durationSec: options.warmup, size: options.size, concurrency: options.concurrency, stamped: false })
      await warm.done
      await wait(1000)
    }
    await target.mark()
    const progress = new Progress(options.quiet)
    const delivered = () => reports.reduce((n, r) => n + (r?.delivered ?? 0), 0)
    // Each second: what the workers reported receiving in it (the progress line shows its p99).
    const timeline: SecondOfLatency[] = []
    let overSloBefore = 0
    const closeSecond = (): number => {
      const { count, p99, max } = summarize(window)
      const overSlo = reports.reduce((n, r) => n + (r?.overSlo ?? 0), 0)
      timeline.push({ second: timeline.length + 1, deliveries: count, p99, max, overSlo: overSlo - overSloBefore })
      overSloBefore = overSlo
      window.reset()
      return p99
    }
    const startedAt = nowMicros()
    const poster = startPosting({ pool, request: target.post, channels, rate, durationSec: options.duration, size: options.size, concurrency: options.concurrency })
    const ticker = setInterval(() => {
      progress.update(`${target.mode === 'external' ? '' : transport + ' '}${rate}/s`, poster.stats.sent, delivered(), closeSecond())
    }, 1000)
    await poster.done
    const postedFor = (nowMicros() - startedAt) / 1e6

    // Drain: until every expected delivery arrived, or nothing new arrived for drainQuiet ms.
    const expected = poster.acked.reduce((n, a, c) => n + a.count * subscribers[c], 0)
    await new Promise<void>((resolve) => {
      let last = delivered()
      let quietSince = Date.now()
      onReport = () => {
        const now = delivered()
        if (now >= expected) return resolve()
        if (now !== last) { last = now; quietSince = Date.now() } else if (Date.now() - quietSince >= options.drainQuiet) resolve()
      }
      onReport()
    })
    clearInterval(ticker)
    if (window.totalCount > 0) closeSecond() // the part of a second the drain ended in
    progress.done()
    const server = await target.measure()

    const finals = await Promise.all(workers.map((worker) => new Promise<WorkerFinal>((resolve) => {
      worker.on('message', (m: { type: string }) => { if (m.type === 'final') resolve(m as WorkerFinal) })
      const finish: FinishRequest = { type: 'finish', acked: poster.acked.map((a) => ({ bits: a.set.bits, count: a.count })) }
      worker.postMessage(finish)
    })))
    for (const f of finals) mergeInto(total, f.histogram)
    await target.stop()
    const sum = (k: keyof WorkerFinal) => finals.reduce((n, f) => n + (f[k] as number), 0)
    const lastDelivery = Math.max(...finals.map((f) => f.lastDeliveryAt))
    const deliveredCount = sum('delivered')
    const workerMaxElu = Math.max(...finals.map((f) => f.maxElu))
    const busyShare = sum('busyIntervals') / Math.max(1, sum('intervals'))
    const reasons: string[] = []
    // One busy interval can be the OS scheduling another process; a pattern is saturation.
    if (busyShare > SATURATED_SHARE) reasons.push(`worker threads were ≥ 90% busy during ${Math.round(busyShare * 100)}% of ${REPORT_EVERY_MS} ms intervals: latencies include time frames waited to be read`)
    if (poster.stats.postsLate > poster.stats.sent * SATURATED_SHARE) reasons.push(`${poster.stats.postsLate} of ${poster.stats.sent} posts went out more than 10 ms behind schedule (worst ${poster.stats.maxBehindScheduleMs.toFixed(0)} ms)`)
    return {
      transport,
      target: target.mode,
      rate,
      sent: poster.stats.sent,
      acknowledged: poster.stats.acknowledged,
      httpErrors: poster.stats.httpErrors,
      shed: poster.stats.shed,
      httpErrorsBy: poster.stats.errorsBy,
      firstHttpError: poster.stats.firstError,
      expectedDeliveries: expected,
      delivered: deliveredCount,
      lost: sum('lost'),
      duplicates: sum('duplicates'),
      outOfOrder: sum('outOfOrder'),
      misrouted: sum('misrouted'),
      deliveredWithoutAck: sum('unacknowledged'),
      disconnected: sum('disconnected'),
      latencyMs: summarize(total),
      overSlo: sum('overSlo'),
      timeline,
      messagesPerSec: round(poster.stats.acknowledged / postedFor),
      deliveriesPerSec: round(deliveredCount / Math.max(1e-3, (lastDelivery - startedAt) / 1e6)),
      generator: {
        workers: workerCount,
        workerMaxElu: round(workerMaxElu),
        workerBusyShare: round(busyShare),
        workerEventLoopDelayP99Ms: round(Math.max(...finals.map((f) => f.eventLoopDelayP99Ms))),
        postsLate: poster.stats.postsLate,
        maxBehindScheduleMs: round(poster.stats.maxBehindScheduleMs),
        postsQueuedForSlot: poster.stats.queuedForSlot,
        saturated: reasons.length > 0,
        reasons
      },
      ...(server ? { server: serverFigures(server, postedFor, poster.stats.acknowledged, deliveredCount) } : {})
    }
  } catch (err) {
    await target.stop().catch(() => {})
    throw err
  } finally {
    await Promise.all([...workers.map((w) => w.terminate()), pool?.close()])
  }
}

const round = (n: number) => Math.round(n * 100) / 100

/** CPU per second of posting, and per message and per delivery: the server's cost, robust to a busy machine. */
function serverFigures (s: Stopped, postedFor: number, messages: number, deliveries: number): NonNullable<StepResult['server']> {
  const cpuMs = s.cpuUserMs + s.cpuSystemMs
  return {
    cpuMs: round(cpuMs),
    cpuSystemMs: round(s.cpuSystemMs),
    cpuPerSec: round(cpuMs / 1000 / postedFor),
    cpuMicrosPerMessage: round((cpuMs * 1000) / Math.max(1, messages)),
    cpuMicrosPerDelivery: round((cpuMs * 1000) / Math.max(1, deliveries)),
    // a Node server's event loop; none for Centrifugo
    ...(s.elu !== undefined ? { eventLoopUtilization: round(s.elu) } : {}),
    ...(s.eventLoopDelayP99Ms !== undefined ? { eventLoopDelayP99Ms: round(s.eventLoopDelayP99Ms) } : {}),
    ...(s.eventLoopDelayMaxMs !== undefined ? { eventLoopDelayMaxMs: round(s.eventLoopDelayMaxMs) } : {}),
    ...(s.profile ? { profile: s.profile } : {})
  }
}
