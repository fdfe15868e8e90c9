import fp from 'fastify-plugin'
import type { MessageStore } from './store.ts'
import { createEmbeddedStore } from './embedded.ts'

export type * from './store.ts'

declare module 'fastify' {
  interface FastifyInstance { store: MessageStore }
}

export interface StorePluginOptions { store?: MessageStore }

/** The durable store: MongoDB when MONGO_URL is set, in-memory otherwise. Never a silent fallback. */
export default fp<StorePluginOptions>(async function store (app, opts) {
  const { config } = app
  let store: MessageStore
  if (opts.store) {
    store = opts.store
  } else if (app.mongo) {
    const { createMongoStore } = await import('./mongo.js') // .js: see plugins/bus/index.ts
    store = createMongoStore(app.mongo.db, { logger: app.log.child({ component: 'mongo' }), bulkMax: config.MONGO_BULK_MAX })
  } else {
    store = createEmbeddedStore()
  }
  app.log.info({ store: store.kind }, `store: ${store.kind === 'mongo' ? `MongoDB database ${config.MONGO_DB}` : 'embedded in-memory (set MONGO_URL for MongoDB)'}`)
  app.decorate('store', store)
  // the shared MongoDB client has its own check (plugins/external/mongo.ts)
  if (store.kind !== 'mongo' || opts.store) app.readiness.add('store', () => store.ping())
  if (!opts.store) app.addHook('onClose', async () => { await store.close() })
}, { name: 'store', dependencies: ['readiness', 'mongo'] })
