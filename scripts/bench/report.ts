/* c8 ignore start */ // Coverage: `npm run bench` runs this file in a process of its own, which test/bench drives end to end (a child process's coverage is not collected); the thresholds measure the product.
// What the user sees: a live progress line while posting, a table at the end, the comparison.
import type { Comparison, StepResult, Versus } from './result.ts'

export class Progress {
  readonly #tty = process.stderr.isTTY
  constructor (private readonly quiet: boolean) {}

  update (label: string, sent: number, delivered: number, p99: number): void {
    if (this.quiet) return
    const line = `${label}  sent ${sent}  delivered ${delivered}  p99 ${p99.toFixed(1)} ms (last second)`
    if (this.#tty) process.stderr.write(`\r\x1b[2K${line}`)
    else process.stderr.write(`${line}\n`)
  }

  done (): void { if (!this.quiet && this.#tty) process.stderr.write('\r\x1b[2K') }
}

const COLUMNS: Array<[string, (r: StepResult) => string]> = [
  ['transport', (r) => r.transport],
  ['rate/s', (r) => String(r.rate)],
  ['sent', (r) => String(r.sent)],
  ['expected', (r) => String(r.expectedDeliveries)],
  ['delivered', (r) => String(r.delivered)],
  ['lost', (r) => String(r.lost)],
  ['dup', (r) => String(r.duplicates)],
  ['ooo', (r) => String(r.outOfOrder)],
  ['http err', (r) => String(r.httpErrors)],
  ['shed', (r) => String(r.shed ?? 0)],
  ['p50 ms', (r) => r.latencyMs.p50.toFixed(2)],
  ['p90 ms', (r) => r.latencyMs.p90.toFixed(2)],
  ['p99 ms', (r) => r.latencyMs.p99.toFixed(2)],
  ['p99.9 ms', (r) => r.latencyMs.p999.toFixed(2)],
  ['max ms', (r) => r.latencyMs.max.toFixed(2)],
  ['deliv/s', (r) => String(Math.round(r.deliveriesPerSec))],
  ['server cpu', (r) => r.server ? `${Math.round(r.server.cpuPerSec * 100)}%` : '-'],
  ['µs/deliv', (r) => r.server ? r.server.cpuMicrosPerDelivery.toFixed(1) : '-'],
  ['generator', (r) => r.generator.saturated ? 'SATURATED' : 'ok']
]

/** Most seconds a "p99 by second" note lists. */
const SECONDS_LISTED = 20

/**
 * Where a missed p99 comes from: the p99 of each second, and whether the deliveries slower than the
 * objective came mostly in the first second (a cold server or generator: --warmup measures after it).
 */
export function latencyNotes (r: StepResult, sloP99: number): string[] {
  if (r.latencyMs.p99 <= sloP99 || !r.timeline?.length) return []
  const label = `${r.transport} ${r.rate}/s`
  const seconds = r.timeline.slice(0, SECONDS_LISTED).map((s) => s.deliveries === 0 ? '-' : s.p99.toFixed(1))
  const notes = [`${label}: p99 by second (ms): ${seconds.join(' ')}${r.timeline.length > SECONDS_LISTED ? ' …' : ''}`]
  const first = r.timeline[0].overSlo
  if (r.overSlo > 0 && first / r.overSlo >= 0.5) {
    notes.push(`${label}: ${first} of the ${r.overSlo} deliveries over ${sloP99} ms (${Math.round(first / r.overSlo * 100)}%) came in the first second: a cold start; --warmup S measures after it`)
  }
  return notes
}

export function table (runs: StepResult[], sloP99: number): string {
  const rows = [COLUMNS.map(([h]) => h), ...runs.map((r) => COLUMNS.map(([, f]) => f(r)))]
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  const lines = rows.map((row) => row.map((cell, i) => cell.padStart(widths[i])).join('  '))
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  const notes: string[] = []
  for (const r of runs) {
    if (r.httpErrors > 0) notes.push(`${r.transport} ${r.rate}/s: ${r.httpErrors} posts failed ${JSON.stringify(r.httpErrorsBy)}, first: ${r.firstHttpError}`)
    if ((r.shed ?? 0) > 0) notes.push(`${r.transport} ${r.rate}/s: ${r.shed} posts shed by the server (503 + Retry-After: overloaded), not counted as errors`)
    if (r.disconnected > 0) notes.push(`${r.transport} ${r.rate}/s: ${r.disconnected} subscribers were disconnected during the run`)
    if (r.misrouted > 0 || r.deliveredWithoutAck > 0) notes.push(`${r.transport} ${r.rate}/s: ${r.misrouted} misrouted deliveries, ${r.deliveredWithoutAck} deliveries of unacknowledged posts`)
    if (r.server?.profile) notes.push(`${r.transport} ${r.rate}/s: server CPU profile ${r.server.profile}`)
    for (const reason of r.generator.reasons) notes.push(`${r.transport} ${r.rate}/s: generator saturated: ${reason}`)
    notes.push(...latencyNotes(r, sloP99))
    if (r.instances) notes.push(`${r.transport} ${r.rate}/s: server CPU by instance: ${r.instances.map((s, i) => `${i + 1}: ${Math.round(s.cpuPerSec * 100)}%`).join(', ')}`)
    if (r.failover) notes.push(...failoverNotes(r, sloP99))
  }
  return [...lines, ...notes.map((n) => `note: ${n}`)].join('\n')
}

/** What a --fail failure cost, a line each. */
export function failoverNotes (r: StepResult, sloP99: number): string[] {
  const f = r.failover!
  const label = `${r.transport} ${r.rate}/s --fail ${f.what}@${f.at}`
  if (!f.node && f.error) return [`${label}: nothing was killed: ${f.error}`]
  const notes = [`${label}: killed ${f.node} (${f.detail}) at ${f.killedAtSecond.toFixed(1)} s${f.restartedAfterSec !== undefined ? `, back ${f.restartedAfterSec} s later` : ''}${f.error ? `; ${f.error}` : ''}`]
  notes.push(`${label}: posts answered 503: ${f.posts503 ?? 0}, other 5xx: ${f.postsOther5xx ?? 0}${f.postsOther5xx ? ' (MUST be 0)' : ''}, unanswered: ${f.postsUnanswered ?? 0}; lost ${r.lost}, duplicated ${r.duplicates}, out of order ${r.outOfOrder}`)
  const under = f.underSloAfterSec === null ? `never back under ${sloP99} ms` : `every second under ${sloP99} ms from ${f.underSloAfterSec} s after the kill`
  notes.push(`${label}: p99 by second from the kill (ms): ${(f.p99FromKill ?? []).map((p) => p === null ? '-' : p.toFixed(1)).join(' ')}; ${under}`)
  const c = f.reconnect
  if (c) {
    notes.push(`${label}: ${c.reconnected} of ${c.sockets} sockets back (${c.recovered} recovered by replay, ${c.reloaded} reloaded history: ${c.reloadedDeliveries} messages), ${c.notBack} gave up; live again p50 ${c.liveAgainMs.p50} ms, p99 ${c.liveAgainMs.p99} ms, max ${c.liveAgainMs.max} ms`)
    notes.push(`${label}: the survivors' p99 for their own clients during the ${c.stormSec} s storm: ${c.survivorsP99Ms.toFixed(1)} ms`)
  }
  return notes
}

const x = (n: number | null) => n === null ? 'n/a' : `${n.toFixed(2)}×`

/** The ratios of switchboard against each reference, one row per pair; above 1, switchboard is better. */
export function comparisonText (c: Comparison): string {
  const lines: string[] = []
  const columns: Array<[string, (v: Versus) => string]> = [
    ['', (v) => `${v.ours} vs ${v.reference}`],
    ...(c.sustained ? [[`capacity at p99 ≤ ${c.sloP99} ms`, (v: Versus) => x(v.sustained)] as [string, (v: Versus) => string]] : []),
    [`CPU/delivery at ${c.rate}/s`, (v) => x(v.cpuPerDelivery)],
    [`throughput at ${c.rate}/s`, (v) => x(v.throughput)],
    [`p99 at ${c.rate}/s`, (v) => x(v.p99)]
  ]
  if (c.sustained) {
    const s = Object.entries(c.sustained).map(([t, b]) => `${t} ${b ? `${b.rate}/s (${Math.round(b.deliveriesPerSec)} deliveries/s)` : 'none'}`)
    lines.push(`sustained with p99 ≤ ${c.sloP99} ms and nothing lost: ${s.join(', ')}`)
  }
  lines.push('switchboard against each reference, above 1: switchboard is better (capacity: deliveries/s at the highest rate sustained, ours / reference; CPU per delivery and p99: reference / ours)')
  const rows = [columns.map(([h]) => h), ...c.versus.map((v) => columns.map(([, f]) => f(v)))]
  const widths = columns.map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  for (const row of rows) lines.push(row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join('  '))
  if (!c.sustained) lines.push('capacity at equal p99 needs a sweep: --rate 200,400,800')
  return lines.join('\n')
}
