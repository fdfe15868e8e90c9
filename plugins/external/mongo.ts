// The process's one MongoClient (the @fastify/mongodb shape): the message store and the channel
// store share `app.mongo`, with one readiness check and one mapping of its failures (`mongoCall`).
// `app.mongo` is null without MONGO_URL (the stores then live in process). The database is the one
// MONGO_URL names, else MONGO_DB (config.ts).
import fp from 'fastify-plugin'
import { MongoBulkWriteError, MongoClient, MongoNetworkError, MongoNotConnectedError, MongoServerError, MongoServerSelectionError, MongoTopologyClosedError, type Db } from 'mongodb'
import { TransientError } from './errors.ts'
import { startUpSteps } from './start-up.ts'

export interface Mongo { client: MongoClient, db: Db }

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared client and database; null when MONGO_URL is not set. */
    mongo: Mongo | null
  }
}

/**
 * What the app knows of a client it created: closed by its owner, or reconnecting. The driver
 * (7.x) closes its topology for good when the first connection fails (MongoDB down at start):
 * every later operation then fails with "Topology is closed" even once the server is back, so
 * `mongoCall` reconnects such a client itself (close, then connect, one attempt at a time).
 */
interface State { closed: boolean, reconnecting?: Promise<void> }
const states = new WeakMap<MongoClient, State>()

/** A client with switchboard's options. It connects on first use and reconnects by itself; close it with `closeMongoClient`. */
export function createMongoClient (url: string): MongoClient {
  const client = new MongoClient(url, {
    appName: 'switchboard',
    // An operation waits at most this long for a reachable server, then fails (503, or a retry
    // by the topic handler); the driver keeps reconnecting in the background.
    serverSelectionTimeoutMS: 2500,
    connectTimeoutMS: 2000,
    // undefined fields are left out, as JSON would (never stored as null)
    ignoreUndefined: true
  })
  states.set(client, { closed: false })
  return client
}

/** Closes a client from `createMongoClient` for good (no reconnect after it). */
export async function closeMongoClient (client: MongoClient): Promise<void> {
  const state = states.get(client)
  if (state) {
    state.closed = true
    await state.reconnecting
  }
  await client.close()
}

/** The reconnect in flight for this client, if any (tests wait for it). */
export function reconnecting (client: MongoClient): Promise<void> | undefined {
  return states.get(client)?.reconnecting
}

function reconnect (client: MongoClient) {
  const state = states.get(client)
  if (!state || state.closed || state.reconnecting) return
  state.reconnecting = (async () => {
    await client.close().catch(() => {})
    if (!state.closed) await client.connect().catch(() => {}) // failed: the next operation tries again
  })().finally(() => { state.reconnecting = undefined })
}

// Server codes that mean "not now" rather than "wrong": shutdown, no primary, network trouble.
const TRANSIENT_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436])

/** Error labels of passing trouble: a reset pool, a write the driver may retry, an overloaded or unreachable server. */
const TRANSIENT_LABELS = ['ResetPool', 'RetryableWriteError', 'RetryableError', 'SystemOverloadedError']

/** Whether a driver error means MongoDB is unreachable or busy (it will come back), not a wrong request. */
export function isTransientMongoError (err: unknown): boolean {
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError) return true
  const labelled = err as { hasErrorLabel?: (label: string) => boolean }
  if (typeof labelled?.hasErrorLabel === 'function' && TRANSIENT_LABELS.some((l) => labelled.hasErrorLabel!(l))) return true
  // A batch write (insertMany, bulkWrite) that failed as a whole: the driver wraps its own error (a
  // socket's, or a server selection that timed out once the outage lasts) in a MongoBulkWriteError
  // with no error of its own per document, keeping it as `errorResponse` and copying its fields
  // (code ECONNRESET, errno, syscall). Per-document errors (a duplicate key) are the data's, not an outage.
  if (err instanceof MongoBulkWriteError && [err.writeErrors].flat().length === 0) {
    const wrapped: unknown = err.errorResponse
    if (typeof (err as { syscall?: unknown }).syscall === 'string') return true
    if (wrapped instanceof Error && wrapped !== err) return isTransientMongoError(wrapped)
  }
  if (err instanceof MongoServerError) return TRANSIENT_CODES.has(Number(err.code))
  return false
}

/**
 * Runs an operation, the one mapping of MongoDB failures: an unreachable or busy server is a
 * TransientError naming MongoDB, the database and what failed (HTTP 503, a retry by a topic
 * handler); anything else is thrown as it is (a bug or a bad request, not an outage).
 */
export async function mongoCall<T> (db: Db, what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op()
  } catch (err) {
    if (err instanceof MongoTopologyClosedError || err instanceof MongoNotConnectedError) {
      const state = states.get(db.client)
      if (state && !state.closed) {
        reconnect(db.client)
        throw new TransientError(`MongoDB (database ${db.databaseName}) unavailable: ${what} failed (reconnecting)`, { cause: err })
      }
    }
    if (isTransientMongoError(err)) throw new TransientError(`MongoDB (database ${db.databaseName}) unavailable: ${what} failed (${(err as Error).message})`, { cause: err })
    throw err
  }
}

export interface MongoPluginOptions {
  /** An injected client is used as is and left open on close. */
  client?: MongoClient
}

export default fp<MongoPluginOptions>(async function mongo (app, opts) {
  const { config } = app
  if (!opts.client && !config.MONGO_URL) {
    app.decorate('mongo', null)
    return
  }
  const client = opts.client ?? createMongoClient(config.MONGO_URL)
  const db = client.db(config.MONGO_DB)
  app.decorate('mongo', { client, db } satisfies Mongo)
  app.readiness.add('mongo', async () => { await mongoCall(db, 'ping', () => db.command({ ping: 1 })) })
  // One round trip before the app answers, so a MongoDB that is down at start is named in the log
  // (and /ready fails); operations fail with 503 until it is back.
  app.addHook('onReady', async function connectMongo () {
    const log = app.log.child({ component: 'mongo' })
    await startUpSteps(log, config.PLUGIN_TIMEOUT_MS)(`MongoDB (database ${config.MONGO_DB}) to answer a ping`, mongoCall(db, 'ping', () => db.command({ ping: 1 })))
      .catch((err) => log.error({ err }, `MongoDB (database ${config.MONGO_DB}) not reachable at start; /ready fails until it is`))
  })
  if (!opts.client) app.addHook('onClose', async () => { await closeMongoClient(client) })
}, { name: 'mongo', dependencies: ['readiness'] })
