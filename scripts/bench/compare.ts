// --compare: the same workload against switchboard's two WebSocket paths and the Socket.IO
// reference, then the ratios of throughput and of p99 (and of capacity, with a rate sweep).
import type { TransportKind } from './options.ts'
import { sustained, type Comparison, type StepResult } from './result.ts'

export const COMPARED: TransportKind[] = ['uws', 'fastify', 'socketio']

const ratio = (a: number, b: number): number => b === 0 ? 0 : Math.round((a / b) * 100) / 100

export function compare (runs: StepResult[], rates: number[], sloP99: number): Comparison {
  const rate = Math.max(...rates)
  const at = (t: TransportKind) => runs.find((r) => r.transport === t && r.rate === rate)!
  const [uws, fastify, socketio] = COMPARED.map(at)
  const comparison: Comparison = {
    rate,
    throughputRatio: { uwsVsSocketio: ratio(uws.deliveriesPerSec, socketio.deliveriesPerSec), fastifyVsSocketio: ratio(fastify.deliveriesPerSec, socketio.deliveriesPerSec) },
    p99Ratio: { uwsVsSocketio: ratio(socketio.latencyMs.p99, uws.latencyMs.p99), fastifyVsSocketio: ratio(socketio.latencyMs.p99, fastify.latencyMs.p99) }
  }
  const cpu = (r: StepResult) => r.server?.cpuMicrosPerDelivery ?? 0
  if (cpu(socketio) > 0 && cpu(uws) > 0 && cpu(fastify) > 0) {
    comparison.cpuPerDeliveryRatio = { uwsVsSocketio: ratio(cpu(socketio), cpu(uws)), fastifyVsSocketio: ratio(cpu(socketio), cpu(fastify)) }
  }
  if (rates.length > 1) {
    const best = (t: TransportKind) => {
      const ok = runs.filter((r) => r.transport === t && sustained(r, sloP99)).sort((a, b) => b.rate - a.rate)[0]
      return ok ? { rate: ok.rate, deliveriesPerSec: ok.deliveriesPerSec } : null
    }
    const s = { uws: best('uws'), fastify: best('fastify'), socketio: best('socketio') }
    const vs = (t: 'uws' | 'fastify') => s[t] && s.socketio ? ratio(s[t]!.deliveriesPerSec, s.socketio.deliveriesPerSec) : null
    comparison.sustained = s
    comparison.sustainedRatio = { uwsVsSocketio: vs('uws'), fastifyVsSocketio: vs('fastify') }
  }
  return comparison
}
