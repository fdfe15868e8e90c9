// `npm run bench:markers`: read markers at a steady rate beside the message path (issue 26's
// target: 2,000 markers/s from 5,000 users on 5,000 sockets in channels of 10, receipts on; every
// marker answered 204 is durable; the store sees at most one write per user and channel per batch;
// delivery p99 of 500 msg/s stays ≤ 50 ms alongside). One switchboard on the real services,
// started as `npm run bench` starts it; sockets and markers in worker threads (markers-worker.ts),
// posts from this thread (poster.ts). Then every user's stored marker is checked against the
// furthest one answered 204, and the store's writes are read from /metrics.
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import type { Pool } from 'undici'
import { createHistogram, mergeInto, summarize, type LatencySummary } from './histogram.ts'
import { channelOf, markersUsage, parseMarkersOptions, type MarkersOptions } from './markers-options.ts'
import type { Answered, MarkerCounts, MarkersWorkerFinal, MarkersWorkerReady, MarkersWorkerReport, MarkersWorkerSetup } from './markers-worker.ts'
import { OptionsError } from './options.ts'
import { openPosterPool, startPosting } from './poster.ts'
import { warmupContent } from './payload.ts'
import type { Stopped } from './serve.ts'
import { metricValue, requireRealServices, rounded, startServer, userClient } from './state-server.ts'
import type { Target } from './target.ts'
import type { Position } from '../../schemas/message.ts'

const WORKER = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./markers-worker.ts', import.meta.url).href)}) })`
export const TARGET_DELIVERY_P99_MS = 50
const CHECK_AT_ONCE = 32
const POLL_MS = 500

export interface MarkersResult {
  startedAt: string
  config: MarkersOptions
  host: { cpus: number, node: string }
  target: string
  channels: number
  messages: { sent: number, acknowledged: number, httpErrors: number, perSec: number, expectedDeliveries: number, delivered: number, disconnected: number, latencyMs: LatencySummary }
  markers: MarkerCounts & { perSec: number }
  store: { markersHandled: number, writes: number, writesPerSec: number, writesPerMarker: number }
  durability: { users: number, durable: number, behind: number, firstBehind?: string, checkedInSec: number }
  server?: { cpuPerSec: number, eventLoopUtilization?: number, eventLoopDelayP99Ms?: number }
  loadAverage: number[]
  ok: boolean
}

let parsed: ReturnType<typeof parseMarkersOptions>
try {
  parsed = parseMarkersOptions(process.argv.slice(2))
  if (parsed !== 'help') requireRealServices()
} catch (err) {
  console.error(`bench:markers: ${(err as Error).message}${err instanceof OptionsError ? `\n\n${markersUsage}` : ''}`)
  process.exit(2)
}
if (parsed === 'help') {
  console.log(markersUsage)
  process.exit(0)
}
const options = parsed
const say = (line: string) => { if (!options.quiet) console.error(`bench:markers: ${line}`) }
const runId = randomBytes(3).toString('hex')
const channels = Array.from({ length: Math.ceil(options.users / options.group) }, (_, c) => `markers-${runId}-${c}`)
const users = Array.from({ length: options.users }, (_, i) => ({ userId: `u-${runId}-${i}`, channel: channelOf(i, options.group) }))
const round = (n: number) => Math.round(n * 100) / 100
const compare = (a: Position, b: Position) => a.epoch !== b.epoch ? 1 : Number(BigInt(a.offset) - BigInt(b.offset))

let target: Target | undefined
let pool: Pool | undefined
const workers: Worker[] = []
try {
  target = await startServer(options.quiet)
  const mode = target.mode
  const apiPool = await openPosterPool(target.apiUrl, CHECK_AT_ONCE, 1)
  pool = apiPool
  // the durability check after the run waits out a busy server (503, dropped connections)
  const request = userClient(apiPool, { patient: true })
  const metrics = async () => {
    const res = await apiPool.request({ method: 'GET', path: '/metrics' })
    const text = await res.body.text()
    return { writes: metricValue(text, 'switchboard_read_marker_writes_total'), handled: metricValue(text, 'switchboard_events_handled_total', { handler: 'read-markers-store', outcome: 'ok' }) }
  }
  say(`server on ${target.mode}; ${options.users} users on sockets in ${channels.length} channels of ${options.group}`)

  // Worker w holds users w, w + W, …: each worker marks for users of every channel.
  const setups: MarkersWorkerSetup[] = Array.from({ length: options.workers }, () => ({ wsUrl: target!.wsUrl, apiUrl: target!.apiUrl, users: [], channels, markersPerSec: options.markers / options.workers, reportEveryMs: 250 }))
  users.forEach((u, i) => setups[i % options.workers].users.push(u))
  const delivered: number[] = setups.map(() => 0)
  const primed: number[] = setups.map(() => 0)
  let onReport = () => {}
  const ready = setups.map((setup, w) => {
    const worker = new Worker(WORKER, { eval: true, workerData: setup })
    workers.push(worker)
    worker.on('message', (m: MarkersWorkerReport) => { if (m.type === 'report') { delivered[w] = m.delivered; primed[w] = m.primed; onReport() } })
    return new Promise<MarkersWorkerReady>((resolve, reject) => {
      worker.on('message', (m: { type: string }) => { if (m.type === 'ready') resolve(m as MarkersWorkerReady) })
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`worker ${w} exited (code ${code}) before it was ready`)))
    })
  })
  const connected = await Promise.all(ready)
  const failed = connected.reduce((n, r) => n + r.failed, 0)
  if (failed > 0) throw new Error(`${failed} of ${options.users} users could not connect: ${connected.find((r) => r.firstError)?.firstError}`)
  const posts = await openPosterPool(target.apiUrl, options.concurrency, Math.min(options.concurrency, channels.length))
  // One unstamped message per channel first, so every user has a message to mark from the first second.
  let nextChannel = 0
  await Promise.all(Array.from({ length: Math.min(options.concurrency, channels.length) }, async () => {
    while (nextChannel < channels.length) {
      const channelId = channels[nextChannel++]
      for (let tries = 1; ; tries++) {
        const res = await posts.request({ method: 'POST', path: target!.post.path, headers: target!.post.headers, body: target!.post.body({ channelId, content: warmupContent(64), senderId: 'bench', senderName: 'bench' }) })
        const text = await res.body.text()
        if (target!.post.acknowledged(res.statusCode, text)) break
        // a server just started may shed its first requests (503 + Retry-After): asked again
        if (res.statusCode !== 503 || tries >= 20) throw new Error(`priming ${channelId} answered ${res.statusCode}: ${text.slice(0, 200)}`)
        await sleep(1000 * (Number(res.headers['retry-after']) || 1))
      }
    }
  }))
  await new Promise<void>((resolve, reject) => {
    const sum = () => primed.reduce((n, p) => n + p, 0)
    let last = sum()
    let quietSince = Date.now()
    onReport = () => {
      const now = sum()
      if (now >= options.users) return resolve()
      if (now !== last) { last = now; quietSince = Date.now() } else if (Date.now() - quietSince >= options.drainQuiet) reject(new Error(`only ${now} of ${options.users} users received the priming message of their channel`))
    }
    onReport()
  })
  onReport = () => {}
  const before = await metrics()
  await target.mark()

  say(`posting ${options.rate} msg/s and marking ${options.markers}/s for ${options.duration} s`)
  const startedAt = Date.now()
  for (const worker of workers) worker.postMessage({ type: 'start' })
  const poster = startPosting({ pools: [posts], request: target.post, channels, rate: options.rate, durationSec: options.duration, size: 64, concurrency: options.concurrency })
  await sleep(options.duration * 1000) // the markers' window: as long as the posts'
  await Promise.all(workers.map((worker) => new Promise<void>((resolve) => {
    worker.on('message', (m: { type: string }) => { if (m.type === 'marking-stopped') resolve() })
    worker.postMessage({ type: 'stop-marking' })
  })))
  const markedFor = (Date.now() - startedAt) / 1000
  await poster.done
  const postedFor = (Date.now() - startedAt) / 1000

  // Drain: every expected delivery, or nothing new for --drain-quiet ms.
  const members = channels.map((_, c) => users.filter((u) => u.channel === c).length)
  const expected = poster.acked.reduce((n, a, c) => n + a.count * members[c], 0)
  const total = () => delivered.reduce((n, d) => n + d, 0)
  await new Promise<void>((resolve) => {
    let last = total()
    let quietSince = Date.now()
    onReport = () => {
      const now = total()
      if (now >= expected) return resolve()
      if (now !== last) { last = now; quietSince = Date.now() } else if (Date.now() - quietSince >= options.drainQuiet) resolve()
    }
    onReport()
  })
  const server: Stopped | undefined = await target.measure()
  const finals = await Promise.all(workers.map((worker) => new Promise<MarkersWorkerFinal>((resolve) => {
    worker.on('message', (m: { type: string }) => { if (m.type === 'final') resolve(m as MarkersWorkerFinal) })
    worker.postMessage({ type: 'finish' })
  })))
  const latency = createHistogram()
  for (const f of finals) mergeInto(latency, f.histogram)
  const markers: MarkerCounts = { sent: 0, answered: 0, failed: 0, failedBy: {}, repeated: 0, skipped: 0 }
  for (const { markers: m } of finals) {
    for (const k of ['sent', 'answered', 'failed', 'repeated', 'skipped'] as const) markers[k] += m[k]
    for (const [k, n] of Object.entries(m.failedBy)) markers.failedBy[k] = (markers.failedBy[k] ?? 0) + n
    markers.firstFailure ??= m.firstFailure
  }

  // Durable: each user's stored marker is at or after the furthest one answered 204. The store
  // handler may still be catching up: checked again until it is, or nothing moved for --settle s.
  const answered: Answered[] = finals.flatMap((f) => f.answered)
  say(`checking ${answered.length} users' markers in the store`)
  const checkStart = Date.now()
  let behind = answered
  let firstBehind: string | undefined
  let progressAt = Date.now()
  while (behind.length > 0) {
    const still: Answered[] = []
    let next = 0
    await Promise.all(Array.from({ length: CHECK_AT_ONCE }, async () => {
      while (next < behind.length) {
        const a = behind[next++]
        const res = await request(a.userId, 'GET', '/api/users/me/unread')
        const stored = res.status === 200 ? (JSON.parse(res.body) as { channels: Array<{ channelId: string, position: Position | null }> }).channels.find((c) => c.channelId === a.channelId) : undefined
        if (!stored?.position || compare(stored.position, a.position) < 0) {
          still.push(a)
          firstBehind = `${a.userId} in ${a.channelId}: answered 204 at offset ${a.position.offset}, stored ${stored?.position ? `at offset ${stored.position.offset}` : res.status === 200 ? 'nothing' : `(GET answered ${res.status})`}`
        }
      }
    }))
    if (still.length < behind.length) progressAt = Date.now()
    behind = still
    if (behind.length === 0 || Date.now() - progressAt > options.settle * 1000) break
    await sleep(POLL_MS)
  }
  const checkedInSec = round((Date.now() - checkStart) / 1000)
  const after = await metrics()
  await posts.close()
  await target.stop()
  target = undefined

  const writes = after.writes - before.writes
  const handled = after.handled - before.handled
  const cpuMs = server ? server.cpuUserMs + server.cpuSystemMs : undefined
  const deliveredCount = finals.reduce((n, f) => n + f.delivered, 0)
  const result: MarkersResult = {
    startedAt: new Date(startedAt).toISOString(),
    config: options,
    host: { cpus: availableParallelism(), node: process.version },
    target: mode,
    channels: channels.length,
    messages: { sent: poster.stats.sent, acknowledged: poster.stats.acknowledged, httpErrors: poster.stats.httpErrors, perSec: round(poster.stats.acknowledged / postedFor), expectedDeliveries: expected, delivered: deliveredCount, disconnected: finals.reduce((n, f) => n + f.disconnected, 0), latencyMs: summarize(latency) },
    markers: { ...markers, perSec: round(markers.answered / markedFor) },
    store: { markersHandled: handled, writes, writesPerSec: round(writes / markedFor), writesPerMarker: round(writes / Math.max(1, handled)) },
    durability: { users: answered.length, durable: answered.length - behind.length, behind: behind.length, ...(behind.length > 0 ? { firstBehind } : {}), checkedInSec },
    ...(server && cpuMs !== undefined ? { server: { cpuPerSec: round(cpuMs / 1000 / postedFor), ...(server.elu !== undefined ? { eventLoopUtilization: round(server.elu) } : {}), ...(server.eventLoopDelayP99Ms !== undefined ? { eventLoopDelayP99Ms: round(server.eventLoopDelayP99Ms) } : {}) } } : {}),
    loadAverage: rounded(loadavg()),
    ok: behind.length === 0 && markers.failed === 0 && poster.stats.httpErrors === 0
  }
  const m = result.messages
  console.log(`read markers beside the message path: ${options.users} users on sockets, channels of ${options.group}, ${options.duration} s`)
  console.log(`messages: ${m.perSec}/s acknowledged (${m.httpErrors} errors); delivered ${m.delivered}/${m.expectedDeliveries}; delivery p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms, max ${m.latencyMs.max} ms (target p99 ≤ ${TARGET_DELIVERY_P99_MS} ms)`)
  console.log(`markers: ${result.markers.perSec}/s answered 204 (${markers.answered}/${markers.sent}; ${markers.failed} failed${markers.firstFailure ? `, first: ${markers.firstFailure}` : ''}; ${markers.repeated} repeated a marked message; ${markers.skipped} turns skipped before a first message)`)
  console.log(`store: ${result.store.writesPerSec} marker writes/s (${writes} writes for ${handled} markers handled: ${result.store.writesPerMarker} per marker)`)
  console.log(`durable: ${result.durability.durable}/${result.durability.users} users' furthest 204'd marker found in the store (checked in ${checkedInSec} s)${behind.length > 0 ? `; NOT durable, first: ${firstBehind}` : ''}`)
  if (result.server) console.log(`server: ${result.server.cpuPerSec} CPU s/s, event loop utilization ${result.server.eventLoopUtilization ?? '-'}, event-loop delay p99 ${result.server.eventLoopDelayP99Ms ?? '-'} ms`)
  console.log(`load average ${result.loadAverage.join(' ')}`)
  if (options.json) {
    await writeFile(options.json, JSON.stringify(result, null, 2) + '\n')
    console.log(`results written to ${options.json}`)
  }
  process.exitCode = result.ok ? 0 : 1
} catch (err) {
  console.error(`bench:markers: ${(err as Error).message}`)
  process.exitCode = 1
} finally {
  await Promise.all(workers.map((w) => w.terminate()))
  await pool?.close()
  await target?.stop().catch(() => {})
}
process.exit()
