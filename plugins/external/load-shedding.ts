// Load shedding: while the event loop is saturated, requests are refused at once with 503 and
// Retry-After instead of queueing into seconds of latency; a client (or a load balancer) backs off
// and tries again, or another instance. /health, /ready and /metrics are still answered (/ready
// then fails with its `load` check, so a balancer stops sending traffic here).
//
// Why not @fastify/under-pressure (which this replaced): it always samples the event-loop delay
// with a 10 ms histogram timer (not configurable, even with the delay check off), 100 wake-ups a
// second that made a third of an idle instance's CPU (about 0.3 % of a core: BENCHMARKS.md,
// Session 4), against the "idle is free" target. Here one timer a second reads both signals:
// - utilization: the event loop's busy fraction over that second (perf_hooks eventLoopUtilization);
// - delay: how late that second's tick ran (a blocked loop delays every timer by as much).
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { performance } from 'node:perf_hooks'

export interface LoadReading {
  /** How late the last sampling tick ran (ms). */
  eventLoopDelay: number
  /** Busy fraction of the event loop over the last sampling interval (0..1). */
  eventLoopUtilization: number
}

export interface LoadShedding {
  /** Requests refused since start (switchboard_http_shed_total). */
  readonly stats: { readonly shed: number }
  /** True while requests are being refused. */
  underPressure (): boolean
}

declare module 'fastify' {
  interface FastifyInstance { loadShedding: LoadShedding }
}

/** How often the event loop is sampled (ms). */
export const SAMPLE_INTERVAL_MS = 1000

type Utilization = typeof performance.eventLoopUtilization

/**
 * The sampler behind both checks: each `sample()` (once a second) reads how late it ran and the
 * event loop's busy fraction since the previous one. The clock and the utilization source are
 * parameters so that tests can drive it without waiting.
 */
export function createLoadSampler (now: () => number = () => performance.now(), utilization: Utilization = performance.eventLoopUtilization) {
  const last: LoadReading = { eventLoopDelay: 0, eventLoopUtilization: 0 }
  let previous = utilization()
  let sampledAt = now()
  return {
    last,
    sample () {
      const at = now()
      last.eventLoopDelay = Math.max(0, at - sampledAt - SAMPLE_INTERVAL_MS)
      sampledAt = at
      const current = utilization()
      last.eventLoopUtilization = utilization(current, previous).utilization
      previous = current
    }
  }
}

/** What overloads the event loop by these limits (0 = that check off), or undefined. */
export function overloadOf (reading: LoadReading, maxDelay: number, maxUtilization: number): string | undefined {
  if (maxUtilization > 0 && reading.eventLoopUtilization > maxUtilization) return `event loop utilization ${reading.eventLoopUtilization.toFixed(2)}`
  if (maxDelay > 0 && reading.eventLoopDelay > maxDelay) return `event loop delay ${Math.round(reading.eventLoopDelay)} ms`
  return undefined
}

// operations endpoints: answered under pressure (a probe that times out would restart a busy instance)
const EXEMPT = new Set(['/health', '/ready', '/metrics'])

export default fp(async function loadShedding (app) {
  const { config } = app
  const maxDelay = config.SHED_EVENT_LOOP_DELAY_MS
  const maxUtilization = config.SHED_EVENT_LOOP_UTILIZATION
  const retryAfter = String(config.SHED_RETRY_AFTER_SECONDS)
  const stats = { shed: 0 }
  const sampler = createLoadSampler()
  const { last } = sampler
  const overload = () => overloadOf(last, maxDelay, maxUtilization)
  app.decorate('loadShedding', {
    stats,
    underPressure: () => overload() !== undefined
  } satisfies LoadShedding)
  if (maxDelay === 0 && maxUtilization === 0) return

  const timer = setInterval(sampler.sample, SAMPLE_INTERVAL_MS)
  timer.unref()
  app.addHook('onClose', async () => { clearInterval(timer) })

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const measured = overload()
    if (measured === undefined || EXEMPT.has(request.url.split('?')[0])) return done()
    stats.shed++
    reply.code(503).header('retry-after', retryAfter).send({ statusCode: 503, error: 'Service Unavailable', message: `overloaded (${measured}): request refused, retry in ${retryAfter} s` })
  })
  app.readiness.add('load', async () => {
    if (overload() === undefined) return
    throw new Error(`overloaded: event loop delay ${Math.round(last.eventLoopDelay)} ms, utilization ${last.eventLoopUtilization.toFixed(2)}; requests are refused with 503`)
  })
}, { name: 'load-shedding', dependencies: ['readiness'] })
