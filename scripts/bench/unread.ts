// `npm run bench:unread`: GET /api/users/me/unread for a user in many channels (issue 26's target:
// p99 ≤ 20 ms at 50 requests/s with 1,000 messages per channel, and within 1.5× of that once 10
// channels hold 100,000: the cost does not grow with history). One switchboard on the real
// services; the channels are filled by producing to the log in bulk (bulk-fill.ts), not over HTTP.
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { createFiller, type Fill } from './bulk-fill.ts'
import type { LatencySummary } from './histogram.ts'
import { OptionsError } from './options.ts'
import { paced } from './paced.ts'
import { metricValue, requireRealServices, rounded, startServer, userClient } from './state-server.ts'
import { parseUnreadOptions, unreadUsage, type UnreadOptions } from './unread-options.ts'
import type { Target } from './target.ts'

/** The issue's targets. */
export const TARGET_P99_MS = 20
export const TARGET_RATIO = 1.5
const POLL_MS = 500
/** The consumers' lag has not shrunk for this long: measured anyway (with the lag in the report). */
const STALLED_MS = 30_000
const SETUP_AT_ONCE = 16

interface UnreadEntry { channelId: string, unread: number, capped: boolean, mentions: number }
export interface Phase {
  name: 'filled' | 'grown'
  /** messages per channel: the smallest and the largest */
  messages: { min: number, max: number }
  latencyMs: LatencySummary
  sent: number
  ok: number
  failed: number
  firstFailure?: string
  /** the counts the last indexing poll saw over the benchmark's channels */
  counts: { unreadMin: number, unreadMax: number, capped: number, mentionsMax: number }
  indexedInSec: number
  /** records the server's consumers had yet to handle when measuring (0: caught up) */
  lagAtMeasure: number
  producedPerSec: number
  loadAverage: number[]
}
export interface UnreadResult {
  startedAt: string
  config: UnreadOptions
  host: { cpus: number, node: string }
  target: string
  phases: Phase[]
  /** grown p99 / filled p99 (absent with --grown 0) */
  p99Ratio?: number
  targets: { p99Ms: number, ratio: number, met: boolean }
  ok: boolean
}

let parsed: ReturnType<typeof parseUnreadOptions>
try {
  parsed = parseUnreadOptions(process.argv.slice(2))
  if (parsed !== 'help') requireRealServices()
} catch (err) {
  console.error(`bench:unread: ${(err as Error).message}${err instanceof OptionsError ? `\n\n${unreadUsage}` : ''}`)
  process.exit(2)
}
if (parsed === 'help') {
  console.log(unreadUsage)
  process.exit(0)
}
const options = parsed
const say = (line: string) => { if (!options.quiet) console.error(`bench:unread: ${line}`) }
const runId = randomBytes(3).toString('hex')
const reader = `reader-${runId}`
const writer = `writer-${runId}`
const channels = Array.from({ length: options.channels }, (_, i) => `unread-${runId}-${i}`)

let target: Target | undefined
let pool: Pool | undefined
const filler = createFiller()
try {
  target = await startServer(options.quiet)
  pool = new Pool(target.apiUrl, { connections: 16, pipelining: 1, keepAliveTimeout: 30_000 })
  const request = userClient(pool)
  // the setup and the polls wait out a server busy indexing (503, dropped connections); the measured requests do not
  const patient = userClient(pool, { patient: true })
  say(`server on ${target.mode}; ${reader} in ${options.channels} channels`)

  // The reader posts once in each channel and sets its marker there: everything after counts.
  let next = 0
  await Promise.all(Array.from({ length: Math.min(SETUP_AT_ONCE, channels.length) }, async () => {
    while (next < channels.length) {
      const channelId = channels[next++]
      const posted = await patient(reader, 'POST', '/api/messages', { channelId, content: 'first' })
      if (posted.status !== 201) throw new Error(`posting to ${channelId} answered ${posted.status}: ${posted.body.slice(0, 200)}`)
      const marked = await patient(reader, 'PUT', `/api/channels/${channelId}/read`, { messageId: (JSON.parse(posted.body) as { id: string }).id })
      if (marked.status !== 204) throw new Error(`marking ${channelId} read answered ${marked.status}: ${marked.body.slice(0, 200)}`)
    }
  }))

  /** The reader's counts; undefined when the server shed the request (503: busy indexing a fill), to be asked again. */
  const unread = async (): Promise<UnreadEntry[] | undefined> => {
    const res = await patient(reader, 'GET', '/api/users/me/unread')
    if (res.status === 503) return undefined
    if (res.status !== 200) throw new Error(`GET /api/users/me/unread answered ${res.status}: ${res.body.slice(0, 200)}`)
    return (JSON.parse(res.body) as { channels: UnreadEntry[] }).channels
  }
  /**
   * Waits until the server's consumers (the message store, cache and fanout too, not only the read
   * index) have handled the fill: a measurement beside a store still writing 100,000 messages would
   * time that work, not the counts. Resolves with the records left (0, unless --index-timeout passed).
   */
  const caughtUp = async (): Promise<number> => {
    const since = Date.now()
    let last = Infinity
    let movedAt = Date.now()
    for (;;) {
      const res = await pool!.request({ method: 'GET', path: '/metrics' })
      const text = await res.body.text()
      const lag = metricValue(text, 'switchboard_consumer_lag')
      if (metricValue(text, 'switchboard_consumer_lag_available') === 1 && lag === 0) return 0
      if (lag < last) { last = lag; movedAt = Date.now() }
      // a lag that no longer shrinks (a consumer that reads only some partitions) is not waited out
      if (Date.now() - since > options.indexTimeout * 1000 || Date.now() - movedAt > STALLED_MS) {
        const behind = text.split('\n').filter((l) => l.startsWith('switchboard_consumer_lag{') && !l.endsWith(' 0'))
        say(`consumers still ${lag} records behind, measuring anyway: ${behind.join('; ')}`)
        return lag
      }
      await sleep(POLL_MS)
    }
  }
  /** Each fill's last message mentions the reader: once a channel's mentions reach `mentions`, its fill is indexed (one key, in order). */
  const fill = (count: number, upTo: string[], round: number): Fill[] => upTo.map((channelId) => ({ channelId, count, content: (i) => i === count - 1 ? `fill ${round} done @${reader}` : `fill ${round} message ${i}` }))
  const fillAndIndex = async (fills: Fill[], round: number) => {
    const total = fills.reduce((n, f) => n + f.count, 0)
    say(`producing ${total} messages to ${fills.length} channels`)
    const startedAt = Date.now()
    let shown = 0
    await filler.fill(fills, writer, (produced) => { if (produced - shown >= 100_000) { shown = produced; say(`${produced} of ${total} produced`) } })
    const producedPerSec = Math.round(total / Math.max(0.001, (Date.now() - startedAt) / 1000))
    const indexStart = Date.now()
    const wanted = new Set(fills.map((f) => f.channelId))
    for (;;) {
      const ours = ((await unread()) ?? []).filter((c) => channels.includes(c.channelId))
      const indexed = ours.filter((c) => !wanted.has(c.channelId) || c.mentions >= round).length
      if (indexed === channels.length) {
        const indexedInSec = Math.round((Date.now() - indexStart) / 100) / 10
        const lagAtMeasure = await caughtUp()
        // counted again once caught up: a count read while the index handler's batch was being
        // written (its writes land one by one) may already see the mention but not all before it
        const settled = ((await unread()) ?? ours).filter((c) => channels.includes(c.channelId))
        return { producedPerSec, indexedInSec, lagAtMeasure, counts: { unreadMin: Math.min(...settled.map((c) => c.unread)), unreadMax: Math.max(...settled.map((c) => c.unread)), capped: settled.filter((c) => c.capped).length, mentionsMax: Math.max(...settled.map((c) => c.mentions)) } }
      }
      if (Date.now() - indexStart > options.indexTimeout * 1000) throw new Error(`only ${indexed} of ${channels.length} channels indexed after ${options.indexTimeout} s (--index-timeout)`)
      await sleep(POLL_MS)
    }
  }
  const measure = async () => {
    const check = async (): Promise<true | string> => {
      const res = await request(reader, 'GET', '/api/users/me/unread')
      if (res.status !== 200) return `${res.status} ${res.body.slice(0, 200)}`
      const listed = (JSON.parse(res.body) as { channels: UnreadEntry[] }).channels.length
      return listed >= channels.length ? true : `listed ${listed} channels, not ${channels.length}`
    }
    if (options.warmup > 0) await paced(options.rate, options.warmup, check)
    say(`measuring: ${options.rate} requests/s for ${options.duration} s`)
    return await paced(options.rate, options.duration, check)
  }

  const phases: Phase[] = []
  const filled = await fillAndIndex(fill(options.messages, channels, 1), 1)
  phases.push({ name: 'filled', messages: { min: options.messages + 1, max: options.messages + 1 }, ...await measure(), ...filled, loadAverage: rounded(loadavg()) })
  if (options.grown > 0) {
    const grown = await fillAndIndex(fill(options.growTo - options.messages - 1, channels.slice(0, options.grown), 2), 2)
    const min = options.grown === channels.length ? options.growTo : options.messages + 1
    phases.push({ name: 'grown', messages: { min, max: options.growTo }, ...await measure(), ...grown, loadAverage: rounded(loadavg()) })
  }

  const [first, second] = phases
  const ratio = second ? Math.round((second.latencyMs.p99 / Math.max(0.001, first.latencyMs.p99)) * 100) / 100 : undefined
  const met = phases.every((p) => p.latencyMs.p99 <= TARGET_P99_MS) && (ratio === undefined || ratio <= TARGET_RATIO)
  const result: UnreadResult = {
    startedAt: new Date().toISOString(),
    config: options,
    host: { cpus: availableParallelism(), node: process.version },
    target: target.mode,
    phases,
    ...(ratio !== undefined ? { p99Ratio: ratio } : {}),
    targets: { p99Ms: TARGET_P99_MS, ratio: TARGET_RATIO, met },
    ok: phases.every((p) => p.failed === 0)
  }
  console.log(`GET /api/users/me/unread, ${options.channels} channels, ${options.rate}/s for ${options.duration} s (${target.mode})`)
  for (const p of phases) {
    if (p.lagAtMeasure > 0) console.log(`note: ${p.name}: measured while the server's consumers were ${p.lagAtMeasure} records behind`)
    console.log(`${p.name.padEnd(6)} ${p.messages.min === p.messages.max ? p.messages.max : `${p.messages.min}..${p.messages.max}`} messages/channel: p50 ${p.latencyMs.p50} ms, p99 ${p.latencyMs.p99} ms, max ${p.latencyMs.max} ms; ${p.ok}/${p.sent} ok; unread ${p.counts.unreadMin}..${p.counts.unreadMax} (${p.counts.capped} capped); indexed in ${p.indexedInSec} s after producing at ${p.producedPerSec}/s; load average ${p.loadAverage.join(' ')}`)
    if (p.firstFailure) console.log(`  first failure: ${p.firstFailure}`)
  }
  if (ratio !== undefined) console.log(`p99 ratio grown/filled: ${ratio} (target ≤ ${TARGET_RATIO})`)
  console.log(`targets (p99 ≤ ${TARGET_P99_MS} ms${ratio !== undefined ? `, ratio ≤ ${TARGET_RATIO}` : ''}): ${met ? 'met' : 'NOT met'}`)
  if (options.json) {
    await writeFile(options.json, JSON.stringify(result, null, 2) + '\n')
    console.log(`results written to ${options.json}`)
  }
  process.exitCode = result.ok ? 0 : 1
} catch (err) {
  console.error(`bench:unread: ${(err as Error).message}`)
  process.exitCode = 1
} finally {
  await Promise.all([pool?.close(), filler.close().catch(() => {})])
  await target?.stop().catch(() => {})
}
process.exit()
