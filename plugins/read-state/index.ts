// Read markers, unread counts and receipts (docs/chat-state.md): the store on MongoDB when
// MONGO_URL is set (the app's one client; its channel counters mirrored in Redis when Redis is
// configured), in process otherwise; and the receipt throttle.
import fp from 'fastify-plugin'
import type { ReadStateStore } from './store.ts'
import { createEmbeddedReadState } from './embedded.ts'
import { createReceiptThrottle, type ReceiptThrottle } from './receipt-throttle.ts'

export type * from './store.ts'

export interface ReadState {
  readonly store: ReadStateStore
  readonly receipts: ReceiptThrottle
  /** Counted by the markers handler, read by /metrics: `markerWrites` is the marker writes asked of the store (one per user and channel per batch). */
  readonly stats: { markerWrites: number }
}

declare module 'fastify' {
  interface FastifyInstance { readState: ReadState }
}

/** One `receipt.read` per user and channel per this many ms. */
export const RECEIPT_INTERVAL_MS = 1000

export default fp<{ store?: ReadStateStore }>(async function readState (app, opts) {
  let store: ReadStateStore
  if (opts.store) store = opts.store
  else if (app.mongo) {
    const { createMongoReadState } = await import('./mongo.js') // .js: see plugins/bus/index.ts
    const { createRedisCounterMirror } = await import('./counter-mirror.js')
    // with Redis, the counters an unread request reads are mirrored there (counter-mirror.ts)
    const mirror = app.redis ? createRedisCounterMirror(app.redis) : undefined
    store = createMongoReadState(app.mongo.db, { logger: app.log.child({ component: 'read-state' }), unreadMax: app.config.UNREAD_MAX, mirror })
  } else store = createEmbeddedReadState({ unreadMax: app.config.UNREAD_MAX })
  const receipts = createReceiptThrottle(RECEIPT_INTERVAL_MS, (err) => app.log.warn({ err }, 'could not send a read receipt (not replayed: clients reload receipts)'))
  app.decorate('readState', { store, receipts, stats: { markerWrites: 0 } })
  app.addHook('onClose', async () => {
    receipts.stop()
    if (!opts.store) await store.close()
  })
}, { name: 'read-state', dependencies: ['mongo', 'redis'] })
