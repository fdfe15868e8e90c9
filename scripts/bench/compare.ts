// --compare: the same workload against switchboard's two WebSocket paths and each reference
// (Socket.IO + Redis adapter, the seed's design, Centrifugo), then switchboard's ratios against each:
// capacity at equal p99 (with a rate sweep), server CPU per delivery, throughput and p99.
import type { TransportKind } from './options.ts'
import { sustained, type BenchResult, type Comparison, type Versus, type StepResult } from './result.ts'
import { missingSeedServices } from './target.ts'

/** switchboard's transports, then the references, in the order --compare runs them. */
export const OURS = ['uws', 'fastify'] as const satisfies readonly TransportKind[]
export const REFERENCES = ['socketio', 'seed', 'centrifugo'] as const satisfies readonly TransportKind[]

/** What --compare runs here: every transport, but the seed only on the real services it is built on. */
export function comparedTransports (env: NodeJS.ProcessEnv = process.env): { transports: TransportKind[], skipped: string[] } {
  const missing = missingSeedServices(env)
  const references = REFERENCES.filter((r) => r !== 'seed' || missing.length === 0)
  return {
    transports: [...OURS, ...references],
    skipped: missing.length > 0 ? [`seed (the seed's design runs on the real services: ${missing.join(', ')} not set)`] : []
  }
}

/** a / b rounded to 2 decimals; null when either figure is missing or b is 0. */
export const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a == null || b == null || b === 0 ? null : Math.round((a / b) * 100) / 100

/** The highest rate of the sweep a transport sustained (nothing lost, p99 within the objective). */
function best (runs: StepResult[], t: TransportKind, sloP99: number): { rate: number, deliveriesPerSec: number } | null {
  const ok = runs.filter((r) => r.transport === t && sustained(r, sloP99)).sort((a, b) => b.rate - a.rate)[0]
  return ok ? { rate: ok.rate, deliveriesPerSec: ok.deliveriesPerSec } : null
}

/** `rate`: where throughput, p99 and CPU are compared (default: the highest offered). */
export function compare (runs: StepResult[], rates: number[], sloP99: number, rate = Math.max(...rates)): Comparison {
  const at = (t: TransportKind) => runs.find((r) => r.transport === t && r.rate === rate)
  const ran = (t: TransportKind) => runs.some((r) => r.transport === t)
  const sweep = rates.length > 1
  const capacity: Comparison['sustained'] = {}
  if (sweep) for (const t of [...OURS, ...REFERENCES]) if (ran(t)) capacity[t] = best(runs, t, sloP99)
  const cpu = (r: StepResult | undefined) => r?.server?.cpuMicrosPerDelivery || null
  const versus: Versus[] = []
  for (const ours of OURS.filter(ran)) {
    for (const reference of REFERENCES.filter(ran)) {
      const o = at(ours)
      const r = at(reference)
      versus.push({
        ours,
        reference,
        sustained: sweep ? ratio(capacity[ours]?.deliveriesPerSec, capacity[reference]?.deliveriesPerSec) : null,
        cpuPerDelivery: ratio(cpu(r), cpu(o)),
        throughput: ratio(o?.deliveriesPerSec, r?.deliveriesPerSec),
        p99: ratio(r?.latencyMs.p99, o?.latencyMs.p99)
      })
    }
  }
  return { rate, sloP99, versus, ...(sweep ? { sustained: capacity } : {}) }
}

/** The workload options sweeps run apart must share for their ratios to mean anything. */
const SAME_WORKLOAD = { connections: 'connections', channels: 'channels', size: 'size', duration: 'duration', sloP99: 'slo-p99' } as const

/**
 * The comparison of sweeps run apart (each `--json`), e.g. from a generator on its own machine
 * against servers started by hand (`--target`): one of switchboard's, one or more of references,
 * all on the same workload. Throughput, p99 and CPU are compared at the highest rate they all ran.
 */
export function compareApart (results: Array<{ file: string, result: BenchResult }>): Comparison {
  for (const { file, result } of results) {
    if (!Array.isArray(result?.runs) || typeof result.config !== 'object') throw new Error(`${file} is not a bench result (npm run bench -- … --json FILE)`)
  }
  const [first] = results
  for (const { file, result } of results.slice(1)) {
    for (const [key, option] of Object.entries(SAME_WORKLOAD) as Array<[keyof typeof SAME_WORKLOAD, string]>) {
      if (result.config[key] !== first.result.config[key]) {
        throw new Error(`${file} ran --${option} ${result.config[key]} and ${first.file} --${option} ${first.result.config[key]}: the ratios need one workload`)
      }
    }
  }
  const runs = results.flatMap(({ result }) => result.runs)
  const transports = new Set(runs.map((r) => r.transport))
  if (!OURS.some((t) => transports.has(t))) throw new Error('no sweep of switchboard (--transport uws or fastify) among the files')
  if (!REFERENCES.some((t) => transports.has(t))) throw new Error('no sweep of a reference (--transport socketio, seed or centrifugo) among the files')
  const rates = [...new Set(runs.map((r) => r.rate))].sort((a, b) => a - b)
  const ranByAll = rates.filter((rate) => [...transports].every((t) => runs.some((r) => r.transport === t && r.rate === rate)))
  return compare(runs, rates, first.result.config.sloP99, Math.max(...(ranByAll.length > 0 ? ranByAll : rates)))
}
