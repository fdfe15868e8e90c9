// What the user sees: a live progress line while posting, a table at the end, the comparison.
import type { Comparison, StepResult } from './result.ts'

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

export function table (runs: StepResult[]): string {
  const rows = [COLUMNS.map(([h]) => h), ...runs.map((r) => COLUMNS.map(([, f]) => f(r)))]
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  const lines = rows.map((row) => row.map((cell, i) => cell.padStart(widths[i])).join('  '))
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  const notes: string[] = []
  for (const r of runs) {
    if (r.httpErrors > 0) notes.push(`${r.transport} ${r.rate}/s: ${r.httpErrors} posts failed ${JSON.stringify(r.httpErrorsBy)}, first: ${r.firstHttpError}`)
    if (r.disconnected > 0) notes.push(`${r.transport} ${r.rate}/s: ${r.disconnected} subscribers were disconnected during the run`)
    if (r.misrouted > 0 || r.deliveredWithoutAck > 0) notes.push(`${r.transport} ${r.rate}/s: ${r.misrouted} misrouted deliveries, ${r.deliveredWithoutAck} deliveries of unacknowledged posts`)
    if (r.server?.profile) notes.push(`${r.transport} ${r.rate}/s: server CPU profile ${r.server.profile}`)
    for (const reason of r.generator.reasons) notes.push(`${r.transport} ${r.rate}/s: generator saturated: ${reason}`)
  }
  return [...lines, ...notes.map((n) => `note: ${n}`)].join('\n')
}

const x = (n: number | null) => n === null ? 'n/a' : `${n.toFixed(2)}×`

export function comparisonText (c: Comparison, sloP99: number): string {
  const lines = [
    `at ${c.rate} messages/s: throughput uws/socket.io ${x(c.throughputRatio.uwsVsSocketio)}, fastify/socket.io ${x(c.throughputRatio.fastifyVsSocketio)}`,
    `                 p99 socket.io/uws ${x(c.p99Ratio.uwsVsSocketio)}, socket.io/fastify ${x(c.p99Ratio.fastifyVsSocketio)} (above 1: switchboard is faster)`
  ]
  if (c.cpuPerDeliveryRatio) lines.push(`                 server CPU per delivery socket.io/uws ${x(c.cpuPerDeliveryRatio.uwsVsSocketio)}, socket.io/fastify ${x(c.cpuPerDeliveryRatio.fastifyVsSocketio)} (above 1: switchboard is cheaper)`)
  if (c.sustained && c.sustainedRatio) {
    const s = (k: keyof NonNullable<Comparison['sustained']>) => c.sustained![k] ? `${c.sustained![k]!.rate}/s (${Math.round(c.sustained![k]!.deliveriesPerSec)} deliveries/s)` : 'none'
    lines.push(`sustained with p99 ≤ ${sloP99} ms and nothing lost: uws ${s('uws')}, fastify ${s('fastify')}, socket.io ${s('socketio')}`)
    lines.push(`                 capacity uws/socket.io ${x(c.sustainedRatio.uwsVsSocketio)}, fastify/socket.io ${x(c.sustainedRatio.fastifyVsSocketio)}`)
  }
  return lines.join('\n')
}
