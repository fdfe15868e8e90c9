// Load shedding (@fastify/under-pressure): while the event loop is saturated, requests are refused
// at once with 503 and Retry-After instead of queueing into seconds of latency; a client (or a load
// balancer) backs off and tries again, or another instance. /health, /ready and /metrics are still
// answered (/ready then fails with its `load` check, so a balancer stops sending traffic here).
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'

export interface LoadShedding {
  /** Requests refused since start (switchboard_http_shed_total). */
  readonly stats: { readonly shed: number }
  /** True while requests are being refused. */
  underPressure (): boolean
}

declare module 'fastify' {
  interface FastifyInstance { loadShedding: LoadShedding }
}

// operations endpoints: answered under pressure (a probe that times out would restart a busy instance)
const EXEMPT = new Set(['/health', '/ready', '/metrics'])

export default fp(async function loadShedding (app) {
  const { config } = app
  const stats = { shed: 0 }
  const retryAfter = config.SHED_RETRY_AFTER_SECONDS
  const enabled = config.SHED_EVENT_LOOP_DELAY_MS > 0 || config.SHED_EVENT_LOOP_UTILIZATION > 0
  app.decorate('loadShedding', {
    stats,
    underPressure: () => enabled && app.isUnderPressure()
  } satisfies LoadShedding)
  if (!enabled) return

  await app.register(underPressure, {
    maxEventLoopDelay: config.SHED_EVENT_LOOP_DELAY_MS,
    maxEventLoopUtilization: config.SHED_EVENT_LOOP_UTILIZATION,
    // The utilization of the last sample interval (1 s), not since start-up: the plugin's default
    // ('cumulative', fastify/under-pressure#294) dilutes a burst in the hours of idle time before it,
    // so a long-running instance would never shed.
    eventLoopUtilizationMode: 'interval',
    retryAfter,
    // Nothing returned: the request goes on. A value returned is sent as the answer (the plugin's
    // types say void, its code sends it), here the app's one error shape.
    pressureHandler: ((request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => {
      if (EXEMPT.has(request.url.split('?')[0])) return undefined
      stats.shed++
      const measured = type === 'eventLoopUtilization' ? `event loop utilization ${Number(value).toFixed(2)}` : `${type} ${Math.round(Number(value))}`
      reply.code(503).header('retry-after', String(retryAfter))
      return { statusCode: 503, error: 'Service Unavailable', message: `overloaded (${measured}): request refused, retry in ${retryAfter} s` }
    }) as unknown as (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => void
  })
  app.readiness.add('load', async () => {
    if (!app.isUnderPressure()) return
    const { eventLoopDelay, eventLoopUtilized } = app.memoryUsage()
    throw new Error(`overloaded: event loop delay ${Math.round(eventLoopDelay)} ms, utilization ${eventLoopUtilized.toFixed(2)}; requests are refused with 503`)
  })
}, { name: 'load-shedding', dependencies: ['readiness'] })
