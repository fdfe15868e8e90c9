// Prometheus metrics at GET /metrics: HTTP, the log (produced, handled, dead letters, lag), the
// fanout and the history cache. Counters owned by other plugins are read at scrape time.
// prom-client metrics join their `registers` when constructed, hence the bare `new`s below.
/* eslint no-new: off */
import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { ConsumerLag } from '../bus/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry
    /** Post→delivery latency: the messages-fanout handler reports each message event it delivered, once (not per socket). */
    deliveryLatency: { observe (at: string): void }
  }
}

/** Names read by the operator dashboard's stats (routes/admin-stats.ts) as well as by Prometheus. */
export const DELIVERY_LATENCY = 'switchboard_delivery_latency_seconds'

/** Lag is fetched from the log on each scrape; a log that does not answer must not hang /metrics. */
const LAG_TIMEOUT_MS = 1000

async function within<T> (promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

export default fp(async function metrics (app) {
  // One registry per app, so several apps in one process (tests) never share or clash.
  const registry = new Registry()
  // The event-loop lag percentiles are sampled every 250 ms (prom-client: every 10 ms): enough for a
  // dashboard, and an idle process is not woken 100 times a second for them (BENCHMARKS.md, Session 8)
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 250 })
  app.decorate('metrics', registry)
  const registers = [registry]

  const httpDuration = new Histogram({
    name: 'switchboard_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers
  })
  const historyReads = new Counter({ name: 'switchboard_history_reads_total', help: 'History pages served from the cache (hit) or the store (miss)', labelNames: ['result'] as const, registers })
  const produced = new Counter({ name: 'switchboard_events_produced_total', help: 'Events produced to the log by the write path', labelNames: ['topic', 'outcome'] as const, registers })
  // Counted by the pipeline per record and handler (plain numbers), read here when scraped.
  const handledCounts = () => app.topicHandlers.stats.handled.values()
  new Counter({
    name: 'switchboard_events_handled_total',
    help: 'Events a topic handler finished with, by outcome (ok, dead-letter)',
    labelNames: ['topic', 'handler', 'outcome'] as const,
    registers,
    collect () {
      this.reset()
      for (const { topic, handler, ok, deadLetter } of handledCounts()) {
        this.inc({ topic, handler, outcome: 'ok' }, ok)
        this.inc({ topic, handler, outcome: 'dead-letter' }, deadLetter)
      }
    }
  })
  new Counter({
    name: 'switchboard_dead_letters_total',
    help: 'Events sent to <topic>.dlq (invalid, or retries exhausted)',
    labelNames: ['topic', 'handler'] as const,
    registers,
    collect () {
      this.reset()
      for (const { topic, handler, deadLetter } of handledCounts()) this.inc({ topic, handler }, deadLetter)
    }
  })

  // Both lag gauges are collected in parallel: one read of the log per scrape serves them both.
  let scrape: Promise<ConsumerLag[] | null> | undefined
  const readLag = () => {
    scrape ??= (async () => {
      if (!app.bus.lag) return []
      try {
        return await within(app.bus.lag(), LAG_TIMEOUT_MS)
      } catch (err) {
        app.log.warn({ err }, 'metrics: consumer lag unavailable')
        return null
      }
    })().finally(() => { scrape = undefined })
    return scrape
  }
  new Gauge({
    name: 'switchboard_consumer_lag_available',
    help: '1 when this scrape read consumer lag from the log, 0 when the log did not answer in time',
    registers,
    async collect () { this.set((await readLag()) ? 1 : 0) }
  })
  new Gauge({
    name: 'switchboard_consumer_lag',
    help: "Records a consumer group has yet to handle, per topic partition (this instance's groups)",
    labelNames: ['group', 'topic', 'partition'] as const,
    registers,
    async collect () {
      this.reset()
      for (const l of await readLag() ?? []) this.set({ group: l.group, topic: l.topic, partition: String(l.partition) }, l.lag)
    }
  })
  // A broadcast consumer behind the log (plugins/broadcast-behind.ts): its sockets get events late or not at all.
  const standings = async () => app.broadcastBehind.assess(await readLag() ?? [])
  new Gauge({
    name: 'switchboard_broadcast_behind',
    help: '1 while a broadcast consumer (delivery to this instance\'s sockets) is behind the log (BROADCAST_MAX_LAG, BROADCAST_MAX_AGE_MS): /ready fails meanwhile',
    labelNames: ['consumer'] as const,
    registers,
    async collect () {
      this.reset()
      for (const s of await standings()) this.set({ consumer: s.consumer }, s.behind ? 1 : 0)
    }
  })
  new Gauge({
    name: 'switchboard_broadcast_pending_seconds',
    help: 'How long records a broadcast consumer has yet to handle have waited at least (0 when it is caught up)',
    labelNames: ['consumer'] as const,
    registers,
    async collect () {
      this.reset()
      for (const s of await standings()) this.set({ consumer: s.consumer }, s.pendingMs / 1000)
    }
  })

  new Counter({
    name: 'switchboard_broadcast_records_total',
    help: "Records this instance's broadcast consumers dispatched, by how they came: fetched from the log, or from this instance's producer at the log's acknowledgement",
    labelNames: ['via'] as const,
    registers,
    collect () {
      this.reset()
      const taken = app.bus.broadcastTaken
      if (taken) for (const via of ['fetch', 'producer'] as const) this.inc({ via }, taken[via])
    }
  })

  // The fanout keeps plain counters; mirror them at scrape time.
  const stats = () => app.fanout.stats
  new Gauge({
    name: 'switchboard_fanout_connections',
    help: 'Open WebSocket connections per transport (uws: WS_PORT, fastify: the API port)',
    labelNames: ['transport'] as const,
    registers,
    collect () { for (const [transport, n] of Object.entries(stats().connections)) this.set({ transport }, n) }
  })
  new Gauge({
    name: 'switchboard_fanout_subscriptions',
    help: 'Live channel subscriptions (connection × channel) on this instance',
    registers,
    collect () { this.set(stats().subscriptions) }
  })
  new Gauge({
    name: 'switchboard_fanout_partitions_read',
    help: 'Partitions of messages a selective fanout (FANOUT_SELECTIVE) reads now: those its sockets subscribe to a channel in',
    registers,
    collect () { this.set(app.hasDecorator('fanoutReads') ? app.fanoutReads.stats.reading : 0) }
  })
  const mirror = (name: string, help: string, read: () => number) => new Counter({ name, help, registers, collect () { this.reset(); this.inc(read()) } })
  new Gauge({
    name: 'switchboard_http_connections',
    help: 'Open HTTP connections on the API port, upgraded WebSockets aside (capped at HTTP_MAX_CONNECTIONS)',
    registers,
    collect () { this.set(app.httpConnections.stats.open) }
  })
  mirror('switchboard_http_connections_evicted_total', 'idle HTTP connections closed to make room past HTTP_MAX_CONNECTIONS', () => app.httpConnections.stats.evicted)
  mirror('switchboard_http_connections_refused_total', 'new HTTP connections closed past HTTP_MAX_CONNECTIONS while every open one was busy', () => app.httpConnections.stats.refused)
  mirror('switchboard_http_shed_total', 'HTTP requests refused with 503 while the event loop was saturated (load shedding)', () => app.loadShedding.stats.shed)
  mirror('switchboard_fanout_published_total', 'Events published to the fanout hub', () => stats().published)
  mirror('switchboard_fanout_deliveries_total', 'Event frames handed to subscribed sockets', () => stats().deliveries)
  mirror('switchboard_fanout_slow_clients_dropped_total', 'Sockets closed with 4008 for exceeding WS_MAX_BACKPRESSURE', () => stats().slowClientsDropped)
  mirror('switchboard_fanout_error_frames_total', 'error frames sent to clients (bad frames, refused subscribes)', () => stats().errorFrames)
  mirror('switchboard_fanout_frames_rate_limited_total', 'client frames ignored for exceeding WS_FRAME_RATE / WS_FRAME_BURST', () => stats().framesRateLimited)
  mirror('switchboard_fanout_rate_limited_closed_total', 'sockets closed with 4029 for sending on past the frame budget', () => stats().rateLimitedClosed)
  mirror('switchboard_fanout_tokens_expired_total', 'sockets closed with 4401 at their token\'s exp', () => stats().tokensExpired)
  mirror('switchboard_fanout_replays_over_budget_total', 'recoveries answered recovered: false because the replay would not fit in half of WS_MAX_BACKPRESSURE', () => stats().replaysOverBudget)
  mirror('switchboard_fanout_replays_dropped_total', 'redelivered positioned events not sent again (at or below the channel\'s last sent position)', () => stats().replaysDropped)

  new Gauge({
    name: 'switchboard_recovery_buffer_bytes',
    help: 'Bytes of event frames in this instance\'s recovery buffer (at most RECOVERY_BUFFER_BYTES)',
    registers,
    collect () { this.set(app.recovery.buffer.bytes) }
  })
  // Reconnect recovery: outcomes as the clients got them (a replay refused as over budget is not recovered).
  new Counter({
    name: 'switchboard_recovery_subscribes_total',
    help: 'Subscribes with since, by outcome: recovered (the missed events replayed) or not_recovered (the client reloads over HTTP)',
    labelNames: ['outcome'] as const,
    registers,
    collect () {
      this.reset()
      this.inc({ outcome: 'recovered' }, app.recovery.stats.recovered)
      this.inc({ outcome: 'not_recovered' }, app.recovery.stats.notRecovered)
    }
  })
  mirror('switchboard_recovery_replayed_events_total', 'Event frames replayed to resubscribing clients', () => app.recovery.stats.replayedEvents)
  mirror('switchboard_recovery_shared_log_reads_total', 'Reads of the shared recovery log (this instance\'s buffer started too late)', () => app.recovery.stats.sharedLogReads)
  mirror('switchboard_recovery_shared_log_events_total', 'Events those reads returned (none when the log cannot prove the range, or it is over the replay budget)', () => app.recovery.stats.sharedLogEvents)
  // The cache's per-channel bounds (tombstones, parked patches): what they dropped on this instance's writes.
  mirror('switchboard_cache_tombstones_trimmed_total', 'Tombstones of deleted messages the cache dropped over CACHE_TOMBSTONES per channel (lowest ids first)', () => app.cache.stats.tombstonesTrimmed)
  mirror('switchboard_cache_parked_trimmed_total', 'Patches of uncached messages the cache dropped over CACHE_PARKED per channel (lowest ids first)', () => app.cache.stats.parkedTrimmed)
  // What the coalescing of read markers saves: markers handled (switchboard_events_handled_total{topic="read-markers"}) against store writes.
  mirror('switchboard_read_marker_writes_total', 'Read-marker writes the markers handler asked of the read-state store: one per user and channel per batch, however many markers the batch held', () => app.readState.stats.markerWrites)

  const deliveryLatency = new Histogram({
    name: DELIVERY_LATENCY,
    help: 'Post→delivery: from a message event\'s `at` (stamped when the API accepted it) to its frame handed to this instance\'s sockets, once per event; clock skew between instances counts, below 0 counts as 0',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers
  })
  app.decorate('deliveryLatency', {
    observe (at: string) {
      const ms = Date.now() - Date.parse(at)
      if (Number.isFinite(ms)) deliveryLatency.observe(Math.max(0, ms) / 1000)
    }
  })

  app.events.emitter.on('produced', ({ topic, outcome }) => produced.inc({ topic, outcome }))

  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL, keeps the label set bounded; unmatched URLs share one label.
    const route = request.routeOptions.url ?? '(unmatched)'
    httpDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
    const cache = reply.getHeader('x-cache')
    if (cache === 'hit' || cache === 'miss') historyReads.inc({ result: cache })
  })

  app.get('/metrics', {
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics (text exposition format)',
      response: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: Type.String() } } } }
    }
  }, async (_request, reply) => {
    const body = await registry.metrics()
    return reply.type(registry.contentType).send(body)
  })
}, { name: 'metrics', dependencies: ['bus', 'events', 'fanout', 'http-connections', 'topic-handlers', 'recovery', 'cache', 'broadcast-behind', 'read-state'] })
