// The message store on MongoDB (the official driver; FerretDB in development). One document per
// message, `_id` = the message id, so an upsert by id makes redelivered events harmless.
import type { FastifyBaseLogger } from 'fastify'
import { MongoClient, MongoNetworkError, MongoServerSelectionError, MongoServerError, type Collection } from 'mongodb'
import type { Message } from '../../schemas/message.ts'
import { TransientError } from '../errors.ts'
import type { MessageStore, StoreOptions } from './store.ts'

export interface MongoStoreOptions extends StoreOptions { url: string, logger: FastifyBaseLogger }

type MessageDoc = Omit<Message, 'id'> & { _id: string }

// Server codes that mean "not now" rather than "wrong": shutdown, no primary, network trouble.
const TRANSIENT_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436])

export function createMongoStore (options: MongoStoreOptions): MessageStore {
  const { logger } = options
  const client = new MongoClient(options.url, {
    appName: 'switchboard',
    // An operation waits at most this long for a reachable server, then fails (503, or a retry
    // by the topic handler); the driver keeps reconnecting in the background.
    serverSelectionTimeoutMS: 2500,
    connectTimeoutMS: 2000,
    // undefined fields are left out, as JSON would (never stored as null)
    ignoreUndefined: true
  })
  const db = client.db(options.database)
  const messages: Collection<MessageDoc> = db.collection<MessageDoc>('messages')
  const where = `MongoDB (database ${options.database})`
  let closed = false

  let indexes: Promise<unknown> | undefined
  function ensureIndexes () {
    if (!indexes) {
      // history pages: one channel, newest id first
      indexes = messages.createIndex({ channelId: 1, _id: -1 }, { name: 'channel_history' })
      indexes.catch(() => { indexes = undefined }) // tried again by the next operation
    }
    return indexes
  }

  async function run<T> (what: string, op: () => Promise<T>): Promise<T> {
    if (closed) throw new Error('store is closed')
    try {
      await ensureIndexes()
      return await op()
    } catch (err) {
      if (!closed && transient(err)) throw new TransientError(`${where} unavailable: ${what} failed (${(err as Error).message})`, { cause: err })
      logger.error({ err }, `MongoDB ${what} failed`)
      throw err
    }
  }

  const toDoc = ({ id, ...rest }: Message): MessageDoc => ({ _id: id, ...rest })
  const toMessage = ({ _id, ...rest }: MessageDoc): Message => ({ id: _id, ...rest })

  return {
    kind: 'mongo',
    async upsert (message) {
      // $setOnInsert: a redelivered create finds the message and changes nothing (edits, reactions stay)
      const { id, ...fields } = message
      await run('upsert', () => messages.updateOne({ _id: id }, { $setOnInsert: fields }, { upsert: true }))
    },
    async patch (id, changes) {
      const { id: _ignored, ...fields } = changes
      if (Object.keys(fields).length === 0) return (await run('patch', () => messages.countDocuments({ _id: id }, { limit: 1 }))) > 0
      const result = await run('patch', () => messages.updateOne({ _id: id }, { $set: fields }))
      return result.matchedCount > 0
    },
    async remove (id) {
      await run('remove', () => messages.deleteOne({ _id: id }))
    },
    async react (id, emoji, userId, on) {
      // Emoji are validated never to hold `.` or `$`, so each is a field of `reactions`; the update
      // is one atomic set operation, so concurrent and redelivered reactions compose.
      const field = `reactions.${emoji}`
      const changed = await run('react', () => messages.updateOne({ _id: id }, on ? { $addToSet: { [field]: userId } } : { $pull: { [field]: userId } }))
      if (changed.matchedCount === 0) return null
      // an emoji nobody reacts with any more disappears (unless someone reacted meanwhile)
      if (!on) await run('react', () => messages.updateOne({ _id: id, [field]: { $size: 0 } }, { $unset: { [field]: '' } }))
      const doc = await run('react', () => messages.findOne({ _id: id }, { projection: { reactions: 1 } }))
      return doc ? (doc.reactions ?? {}) : null
    },
    async get (id) {
      const doc = await run('get', () => messages.findOne({ _id: id }))
      return doc ? toMessage(doc) : null
    },
    async page (channelId, { before, limit }) {
      const filter = before === undefined ? { channelId } : { channelId, _id: { $lt: before } }
      const docs = await run('page', () => messages.find(filter).sort({ _id: -1 }).limit(limit).toArray())
      return docs.map(toMessage)
    },
    async ping () {
      if (closed) throw new Error('store is closed')
      try {
        await db.command({ ping: 1 })
      } catch (err) {
        throw new TransientError(`${where} unavailable: ping failed (${(err as Error).message})`, { cause: err })
      }
    },
    async close () {
      if (closed) return
      closed = true
      await client.close()
    }
  }
}

function transient (err: unknown): boolean {
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError) return true
  if (err instanceof MongoServerError) return TRANSIENT_CODES.has(Number(err.code)) || err.hasErrorLabel('RetryableWriteError')
  // e.g. MongoPoolClearedError, MongoNetworkTimeoutError carry these labels
  return typeof (err as { hasErrorLabel?: unknown })?.hasErrorLabel === 'function' &&
    ((err as MongoServerError).hasErrorLabel('ResetPool') || (err as MongoServerError).hasErrorLabel('RetryableWriteError'))
}
