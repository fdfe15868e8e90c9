// The message store on MongoDB (the official driver; FerretDB in development). One document per
// message, `_id` = the message id, so an upsert by id makes redelivered events harmless.
import type { FastifyBaseLogger } from 'fastify'
import { MongoClient, MongoNetworkError, MongoServerSelectionError, MongoServerError, type Collection, type Filter } from 'mongodb'
import type { Message } from '../../schemas/message.ts'
import { TransientError } from '../errors.ts'
import type { MessageStore, Reactions, StoreOptions } from './store.ts'

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
      // No user string becomes a field path (`reactions.<emoji>` would let `.` or `$` address
      // other fields): the reactions object is read, changed and written back whole, only if it is
      // still what was read (compare-and-set), so concurrent and redelivered reactions compose.
      for (let attempt = 0; attempt < REACT_ATTEMPTS; attempt++) {
        // a deleted message's tombstone (`deleted: true`) takes no reactions
        const doc = await run('react', () => messages.findOne({ _id: id, deleted: { $ne: true } } as Filter<MessageDoc>, { projection: { reactions: 1 } }))
        if (!doc) return null
        const next = reacted(doc.reactions, emoji, userId, on)
        if (!next) return doc.reactions ?? {} // a repeat: already so
        // $eq: what was read is compared as a value, never read as operators or paths
        const unchanged = doc.reactions === undefined ? { $exists: false } : { $eq: doc.reactions }
        const written = await run('react', () => messages.updateOne({ _id: id, deleted: { $ne: true }, reactions: unchanged } as Filter<MessageDoc>, { $set: { reactions: next } }))
        if (written.matchedCount > 0) return next
      }
      throw new TransientError(`${where}: reactions of message ${id} kept changing under ${REACT_ATTEMPTS} attempts`)
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

const REACT_ATTEMPTS = 20

/**
 * The reactions after `userId` adds (`on`) or takes back `emoji`, as plain data (an emptied emoji
 * disappears, others keep their order); null when that changes nothing. Any string is only a key.
 */
function reacted (reactions: Reactions | undefined, emoji: string, userId: string, on: boolean): Reactions | null {
  const entries = Object.entries(reactions ?? {})
  const users = entries.find(([e]) => e === emoji)?.[1] ?? []
  if (users.includes(userId) === on) return null
  const kept = on ? [...users, userId] : users.filter((u) => u !== userId)
  const others = entries.filter(([e]) => e !== emoji)
  if (kept.length === 0) return Object.fromEntries(others)
  return Object.fromEntries(users.length === 0 ? [...entries, [emoji, kept]] : entries.map(([e, u]) => [e, e === emoji ? kept : u]))
}
