/* c8 ignore start */ // Coverage: `npm run bench` runs this file in a process of its own, which test/bench drives end to end (a child process's coverage is not collected); the thresholds measure the product.
// One benchmark step: subscribers in worker threads, posts at the rate for the duration, a drain,
// then exact accounting and the merged latency histogram.
import { randomBytes } from 'node:crypto'
import { setTimeout as wait } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import type { Pool } from 'undici'
import { RESTART_AFTER_MS, killNode, services } from './failover.ts'
import { createHistogram, mergeInto, summarize } from './histogram.ts'
import { openPosterPool, startPosting, type PostStats } from './poster.ts'
import { nowMicros } from './payload.ts'
import { openTargets } from './target.ts'
import { Progress } from './report.ts'
import type { BenchOptions, TransportKind } from './options.ts'
import type { FinishRequest, InstanceDown, WorkerFinal, WorkerReady, WorkerReport, WorkerSetup } from './worker.ts'
import type { FailoverResult, SecondOfLatency, StepResult } from './result.ts'
import type { Stopped } from './serve.ts'

// Worker threads do not inherit tsx's loader hooks: the worker registers them before loading worker.ts.
export const WORKER = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}) })`
const REPORT_EVERY_MS = 250
/** Saturated: busy intervals or late posts above this share (a single one can be another process's doing). */
const SATURATED_SHARE = 0.02

/**
 * The instance the i-th connection connects to: round robin, staggered by channel (the k-th
 * subscriber of channel c on instance (c + k) mod N), so that every channel has subscribers on
 * every instance whatever the channel count: a message posted on one instance is delivered on all.
 */
export function instanceOf (i: number, channels: number, instances: number): number {
  return ((i % channels) + Math.floor(i / channels)) % instances
}

export async function runStep (options: BenchOptions, transport: TransportKind, rate: number): Promise<StepResult> {
  const targets = await openTargets(options, transport)
  const target = targets[0]
  const mode = targets.length > 1 ? `${target.mode}; ${targets.length} instances` : target.mode
  const runId = randomBytes(3).toString('hex')
  const channels = Array.from({ length: options.channels }, (_, i) => `bench-${runId}-${i}`)
  const subscribers = channels.map((_, c) => Math.floor(options.connections / options.channels) + (c < options.connections % options.channels ? 1 : 0))
  const workerCount = Math.min(options.workers, options.connections)
  const workers: Worker[] = []
  const pools: Pool[] = []
  const fail = options.fail
  const stopAll = () => Promise.all(targets.map((t) => t.stop().catch(() => undefined)))
  let restarted: Promise<void> | undefined
  try {
    // Subscriber i listens to channel i mod C; worker w holds subscribers w, w + W, w + 2W, …
    const setups: WorkerSetup[] = Array.from({ length: workerCount }, () => ({ kind: transport, urls: targets.map((t) => t.wsUrl), apiUrls: targets.map((t) => t.apiUrl), token: options.token, channels, assignments: [], instances: [], reportEveryMs: REPORT_EVERY_MS, sloMicros: options.sloP99 * 1000, ...(fail?.what === 'instance' ? { resubscribe: true } : {}) }))
    for (let i = 0; i < options.connections; i++) {
      setups[i % workerCount].assignments.push(i % options.channels)
      setups[i % workerCount].instances.push(instanceOf(i, options.channels, targets.length))
    }
    const reports: Array<WorkerReport | undefined> = setups.map(() => undefined)
    const total = createHistogram()
    const window = createHistogram()
    // --fail instance: the survivors' own clients (never disconnected), by second and during the storm
    const steadyWindow = createHistogram()
    const storm = createHistogram()
    let storming = false
    let onReport = () => {}
    const ready = setups.map((setup, w) => {
      const worker = new Worker(WORKER, { eval: true, workerData: setup })
      workers.push(worker)
      worker.on('message', (m: WorkerReport | WorkerReady | WorkerFinal) => {
        if (m.type !== 'report') return
        reports[w] = m
        mergeInto(total, m.histogram)
        mergeInto(window, m.histogram)
        if (m.steady) {
          mergeInto(steadyWindow, m.steady)
          if (storming) mergeInto(storm, m.steady)
        }
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
    if (failed > 0) throw new Error(`${failed} of ${options.connections} subscribers could not connect to ${targets.map((t) => t.wsUrl).join(', ')}: ${connected.find((r) => r.firstError)?.firstError}`)

    // at most one post per channel is in flight (poster.ts), so that many connections are opened now
    for (const t of targets) pools.push(await openPosterPool(t.apiUrl, options.concurrency, Math.min(options.concurrency, channels.length)))
    if (options.warmup > 0) {
      // Unstamped posts at the step's rate (receivers ignore them), answered before measuring; then
      // a second for their last deliveries, which would only be ignored too.
      const warm = startPosting({ pools, request: target.post, channels, rate, durationSec: options.warmup, size: options.size, concurrency: options.concurrency, stamped: false })
      await warm.done
      await wait(1000)
    }
    await Promise.all(targets.map((t) => t.mark()))
    const progress = new Progress(options.quiet)
    const delivered = () => reports.reduce((n, r) => n + (r?.delivered ?? 0), 0)
    // Each second: what the workers reported receiving in it (the progress line shows its p99).
    const timeline: SecondOfLatency[] = []
    let overSloBefore = 0
    const closeSecond = (): number => {
      const { count, p99, max } = summarize(window)
      const overSlo = reports.reduce((n, r) => n + (r?.overSlo ?? 0), 0)
      const second: SecondOfLatency = { second: timeline.length + 1, deliveries: count, p99, max, overSlo: overSlo - overSloBefore }
      if (fail?.what === 'instance') second.survivorsP99 = summarize(steadyWindow).p99
      timeline.push(second)
      overSloBefore = overSlo
      window.reset()
      steadyWindow.reset()
      return p99
    }
    const down = new Set<number>()
    const startedAt = nowMicros()
    const poster = startPosting({ pools, down, request: target.post, channels, rate, durationSec: options.duration, size: options.size, concurrency: options.concurrency })
    const ticker = setInterval(() => {
      progress.update(`${target.mode === 'external' ? '' : transport + ' '}${rate}/s`, poster.stats.sent, delivered(), closeSecond())
    }, 1000)
    // --fail: at its second of the window, the node or instance is killed (and nodes restarted later)
    let failover: FailoverResult | undefined
    let killedUsage: Stopped | undefined
    let stormEndedAt: number | undefined
    const victims = fail?.what === 'instance' ? setups.reduce((n, s) => n + s.instances.filter((i) => i === 0).length, 0) : 0
    const injected = !fail
      ? Promise.resolve()
      : wait(fail.at * 1000).then(async () => {
        failover = { what: fail.what, at: fail.at, killedAtSecond: (nowMicros() - startedAt) / 1e6, node: '', detail: '' }
        try {
          if (fail.what === 'instance') {
            // the load balancer stops sending it posts; its sockets learn where not to come back
            down.add(0)
            for (const worker of workers) worker.postMessage({ type: 'down', instance: 0 } satisfies InstanceDown)
            storming = true
            failover.node = 'instance 1'
            failover.detail = `${victims} of ${options.connections} sockets, at ${targets[0].apiUrl}`
            killedUsage = await targets[0].kill()
          } else {
            const killed = await killNode(fail.what, channels)
            Object.assign(failover, killed)
            const node = killed.node
            const started = Date.now()
            restarted = wait(RESTART_AFTER_MS).then(() => services('up', node)).then(() => { failover!.restartedAfterSec = round((Date.now() - started) / 1000) })
            restarted.catch((err: Error) => { failover!.error = `restarting ${node}: ${err.message}` })
          }
        } catch (err) {
          failover.error = (err as Error).message
        }
      })
    if (fail?.what === 'instance') {
      const reconnecting = onReport
      onReport = () => {
        const back = reports.reduce((n, r) => n + (r ? r.reconnected + r.notBack : 0), 0)
        if (storming && back >= victims) { storming = false; stormEndedAt = nowMicros() }
        reconnecting()
      }
    }
    await poster.done
    const postedFor = (nowMicros() - startedAt) / 1e6
    await injected

    // Drain: until every expected delivery arrived, or nothing new arrived for drainQuiet ms.
    const expected = poster.acked.reduce((n, a, c) => n + a.count * subscribers[c], 0)
    const onStorm = onReport
    await new Promise<void>((resolve) => {
      let last = delivered()
      let quietSince = Date.now()
      onReport = () => {
        onStorm()
        const now = delivered()
        if (now >= expected) return resolve()
        if (now !== last) { last = now; quietSince = Date.now() } else if (Date.now() - quietSince >= options.drainQuiet) resolve()
      }
      onReport()
    })
    clearInterval(ticker)
    if (window.totalCount > 0) closeSecond() // the part of a second the drain ended in
    progress.done()
    const measured = await Promise.all(targets.map((t, i) => i === 0 && killedUsage ? killedUsage : t.measure()))

    const finals = await Promise.all(workers.map((worker) => new Promise<WorkerFinal>((resolve) => {
      worker.on('message', (m: { type: string }) => { if (m.type === 'final') resolve(m as WorkerFinal) })
      const finish: FinishRequest = { type: 'finish', acked: poster.acked.map((a) => ({ bits: a.set.bits, count: a.count })) }
      worker.postMessage(finish)
    })))
    for (const f of finals) mergeInto(total, f.histogram)
    if (storming) for (const f of finals) if (f.steady) mergeInto(storm, f.steady)
    await restarted?.catch(() => {})
    await stopAll()
    const sum = (k: keyof WorkerFinal) => finals.reduce((n, f) => n + (f[k] as number), 0)
    const lastDelivery = Math.max(...finals.map((f) => f.lastDeliveryAt))
    const deliveredCount = sum('delivered')
    const workerMaxElu = Math.max(...finals.map((f) => f.maxElu))
    const busyShare = sum('busyIntervals') / Math.max(1, sum('intervals'))
    const reasons: string[] = []
    // One busy interval can be the OS scheduling another process; a pattern is saturation.
    if (busyShare > SATURATED_SHARE) reasons.push(`worker threads were ≥ 90% busy during ${Math.round(busyShare * 100)}% of ${REPORT_EVERY_MS} ms intervals: latencies include time frames waited to be read`)
    if (poster.stats.postsLate > poster.stats.sent * SATURATED_SHARE) reasons.push(`${poster.stats.postsLate} of ${poster.stats.sent} posts went out more than 10 ms behind schedule (worst ${poster.stats.maxBehindScheduleMs.toFixed(0)} ms)`)
    if (failover) {
      Object.assign(failover, postFailures(poster.stats), recoveryOf(timeline, failover.killedAtSecond, options.sloP99))
      if (fail?.what === 'instance') {
        const liveAgain = finals.flatMap((f) => f.liveAgainMs).sort((a, b) => a - b)
        const at = (p: number) => liveAgain.length === 0 ? 0 : liveAgain[Math.min(liveAgain.length - 1, Math.ceil((p / 100) * liveAgain.length) - 1)]
        failover.reconnect = {
          sockets: victims,
          reconnected: sum('reconnected'),
          recovered: sum('recovered'),
          reloaded: sum('reloaded'),
          reloadedDeliveries: sum('reloadedDeliveries'),
          notBack: sum('notBack'),
          liveAgainMs: { p50: at(50), p99: at(99), max: liveAgain.at(-1) ?? 0 },
          stormSec: round(((stormEndedAt ?? nowMicros()) / 1e6) - startedAt / 1e6 - failover.killedAtSecond),
          survivorsP99Ms: summarize(storm).p99
        }
      }
    }
    const servers = measured.filter((m): m is Stopped => m !== undefined)
    const server = servers.length === 0 ? undefined : servers.length === 1 ? servers[0] : combined(servers)
    return {
      transport,
      target: mode,
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
      ...(server ? { server: serverFigures(server, postedFor, poster.stats.acknowledged, deliveredCount) } : {}),
      ...(server && servers.length > 1 ? { instances: servers.map((s) => instanceFigures(s, postedFor)) } : {}),
      ...(failover ? { failover } : {})
    }
  } catch (err) {
    await restarted?.catch(() => {})
    await stopAll()
    throw err
  } finally {
    await Promise.all([...workers.map((w) => w.terminate()), ...pools.map((p) => p.close())])
  }
}

/** Several instances' windows as one: CPU summed, the event loop of the busiest. */
function combined (servers: Stopped[]): Stopped {
  const most = (k: 'elu' | 'eventLoopDelayP99Ms' | 'eventLoopDelayMaxMs') => servers.some((s) => s[k] !== undefined) ? Math.max(...servers.map((s) => s[k] ?? 0)) : undefined
  return {
    type: 'stopped',
    cpuUserMs: servers.reduce((n, s) => n + s.cpuUserMs, 0),
    cpuSystemMs: servers.reduce((n, s) => n + s.cpuSystemMs, 0),
    elu: most('elu'),
    eventLoopDelayP99Ms: most('eventLoopDelayP99Ms'),
    eventLoopDelayMaxMs: most('eventLoopDelayMaxMs')
  }
}

function instanceFigures (s: Stopped, postedFor: number): NonNullable<StepResult['instances']>[number] {
  const cpuMs = s.cpuUserMs + s.cpuSystemMs
  return { cpuMs: round(cpuMs), cpuPerSec: round(cpuMs / 1000 / postedFor), ...(s.elu !== undefined ? { eventLoopUtilization: round(s.elu) } : {}), ...(s.profile ? { profile: s.profile } : {}) }
}

/** Posts the failure cost: answered 503 (the log unavailable, or shed), other 5xx (must be 0), no answer at all. */
export function postFailures (stats: PostStats): Pick<FailoverResult, 'posts503' | 'postsOther5xx' | 'postsUnanswered'> {
  let other5xx = 0
  let unanswered = 0
  for (const [key, n] of Object.entries(stats.errorsBy)) {
    if (key === '503') continue
    if (/^5\d\d$/.test(key)) other5xx += n
    else if (!/^\d+$/.test(key)) unanswered += n
  }
  return { posts503: (stats.shed ?? 0) + (stats.errorsBy['503'] ?? 0), postsOther5xx: other5xx, postsUnanswered: unanswered }
}

/**
 * The p99 of each second from the one the kill fell in (null: no delivery in it), and how many seconds after the kill the
 * p99 stayed under the objective in every later second with deliveries (null: it never did).
 */
export function recoveryOf (timeline: SecondOfLatency[], killedAtSecond: number, sloP99: number): Pick<FailoverResult, 'p99FromKill' | 'underSloAfterSec'> {
  const from = Math.min(timeline.length, Math.floor(killedAtSecond))
  const after = timeline.slice(from)
  let lastOver = -1
  after.forEach((s, i) => { if (s.deliveries > 0 && s.p99 >= sloP99) lastOver = i })
  const underSloAfterSec = lastOver === after.length - 1 && after.length > 0 ? null : lastOver < 0 ? 0 : round(from + lastOver + 1 - killedAtSecond)
  return { p99FromKill: after.map((s) => s.deliveries === 0 ? null : s.p99), underSloAfterSec }
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
