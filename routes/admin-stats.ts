// GET /api/admin/stats (ADMIN_API_KEYS, X-API-Key): what the operator dashboard (/admin) charts, read
// from the same prom-client metrics /metrics exposes (no bookkeeping of its own). Counters are totals
// since this process started: the page turns two polls into a rate, as Prometheus' rate() does.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import type { Registry } from 'prom-client'
import { ErrorResponse } from '../schemas/http.ts'
import { DELIVERY_LATENCY } from '../plugins/external/metrics.ts'

const Headers = Type.Object({ 'x-api-key': Type.Optional(Type.String({ description: 'one of ADMIN_API_KEYS (required; 401 without)' })) })
const Count = Type.Number({ minimum: 0 })
const PerLabel = (label: string) => Type.Record(Type.String(), Count, { description: `by ${label}` })
const Seconds = Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description: 'seconds; null before the first observation' })

export const AdminStats = Type.Object({
  instanceId: Type.String(),
  at: Type.Number({ description: 'when the metrics were read (ms since the epoch)' }),
  connections: Type.Object({ total: Count, uws: Count, fastify: Count }, { description: 'open WebSocket connections (switchboard_fanout_connections)' }),
  subscriptions: Type.Number({ minimum: 0, description: 'live channel subscriptions (switchboard_fanout_subscriptions)' }),
  totals: Type.Object({
    posts: Type.Number({ minimum: 0, description: 'message events this instance produced (switchboard_events_produced_total{topic="messages",outcome="ok"})' }),
    published: Type.Number({ minimum: 0, description: 'events published to the fanout (switchboard_fanout_published_total)' }),
    deliveries: Type.Number({ minimum: 0, description: 'frames handed to sockets (switchboard_fanout_deliveries_total)' }),
    slowClientsDropped: Type.Number({ minimum: 0, description: 'sockets closed with 4008 (switchboard_fanout_slow_clients_dropped_total)' }),
    deadLetters: Type.Number({ minimum: 0, description: 'events dead-lettered, every topic (switchboard_dead_letters_total)' })
  }, { description: 'counters since the process started' }),
  deadLetters: PerLabel('topic'),
  consumerLag: Type.Object({
    available: Type.Boolean({ description: 'false when the log did not answer in time' }),
    groups: PerLabel('consumer group (summed over topics and partitions)')
  }),
  latency: Type.Object({
    count: Count,
    sum: Type.Number({ minimum: 0, description: 'seconds' }),
    buckets: Type.Array(Type.Object({ le: Type.Union([Type.Number(), Type.Null()], { description: 'upper bound, seconds; null for the last (+Inf)' }), count: Count }), { description: 'cumulative, as in the Prometheus histogram; the page takes percentiles of the difference between two polls' }),
    p50: Seconds,
    p90: Seconds,
    p99: Seconds
  }, { description: `post→delivery latency since start (${DELIVERY_LATENCY})` })
})
export type AdminStats = Static<typeof AdminStats>

/** A metric's values as prom-client's `get()` gives them (histograms name their series). */
type Values = Array<{ value: number, labels: Partial<Record<string, string | number>>, metricName?: string }>

/** The current values of a metric, collected as a scrape collects them. */
async function read (registry: Registry, name: string): Promise<Values> {
  const metric = registry.getSingleMetric(name)
  if (!metric) throw new Error(`metric ${name} is not registered`)
  return (await metric.get()).values as Values
}

const sum = (values: Values, match: (labels: Values[number]['labels']) => boolean = () => true) =>
  values.reduce((total, v) => total + (match(v.labels) ? v.value : 0), 0)

function sumBy (values: Values, label: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const v of values) {
    const key = String(v.labels[label])
    out[key] = (out[key] ?? 0) + v.value
  }
  return out
}

/** The q-quantile of cumulative buckets, interpolated within a bucket as Prometheus' histogram_quantile does. */
export function quantile (q: number, buckets: Array<{ le: number, count: number }>): number | null {
  const total = buckets.at(-1)?.count ?? 0
  if (total === 0) return null
  const rank = q * total
  let lower = 0
  let below = 0
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower // beyond the last bound: its lower edge, as Prometheus answers
      return lower + (le - lower) * (count === below ? 0 : (rank - below) / (count - below))
    }
    lower = le
    below = count
  }
  return lower
}

const admin: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/admin/stats', {
    onRequest: app.apiKeys.guard('admin'),
    schema: {
      tags: ['admin'],
      summary: 'Live figures for the operator dashboard (/admin), read from the Prometheus metrics of this instance',
      headers: Headers,
      response: { 200: AdminStats, 400: ErrorResponse, 401: ErrorResponse }
    }
  }, async () => {
    const registry = app.metrics
    const [connections, subscriptions, produced, published, deliveries, slow, dead, lagAvailable, lag, latency] = await Promise.all([
      'switchboard_fanout_connections', 'switchboard_fanout_subscriptions', 'switchboard_events_produced_total',
      'switchboard_fanout_published_total', 'switchboard_fanout_deliveries_total', 'switchboard_fanout_slow_clients_dropped_total',
      'switchboard_dead_letters_total', 'switchboard_consumer_lag_available', 'switchboard_consumer_lag', DELIVERY_LATENCY
    ].map((name) => read(registry, name)))
    const byTransport = sumBy(connections, 'transport')
    const buckets = latency
      .filter((v) => v.metricName === `${DELIVERY_LATENCY}_bucket`)
      .map((v) => ({ le: v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), count: v.value }))
      .sort((a, b) => a.le - b.le)
    return {
      instanceId: app.instanceId,
      at: Date.now(),
      connections: { total: sum(connections), uws: byTransport.uws ?? 0, fastify: byTransport.fastify ?? 0 },
      subscriptions: sum(subscriptions),
      totals: {
        posts: sum(produced, (l) => l.topic === 'messages' && l.outcome === 'ok'),
        published: sum(published),
        deliveries: sum(deliveries),
        slowClientsDropped: sum(slow),
        deadLetters: sum(dead)
      },
      deadLetters: sumBy(dead, 'topic'),
      consumerLag: { available: sum(lagAvailable) === 1, groups: sumBy(lag, 'group') },
      latency: {
        count: buckets.at(-1)?.count ?? 0,
        sum: sum(latency.filter((v) => v.metricName === `${DELIVERY_LATENCY}_sum`)),
        // JSON has no Infinity: the last bound goes out as null
        buckets: buckets.map(({ le, count }) => ({ le: le === Infinity ? null : le, count })),
        p50: quantile(0.5, buckets),
        p90: quantile(0.9, buckets),
        p99: quantile(0.99, buckets)
      }
    }
  })
}

export default admin
