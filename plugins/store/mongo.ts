// The message store on MongoDB (the official driver; FerretDB in development). One document per
// message, `_id` = the message id, so an upsert by id makes redelivered events harmless.
import type { FastifyBaseLogger } from 'fastify'
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db, type Filter } from 'mongodb'
import type { DeletedParent, HistoryMessage, Message, Position } from '../../schemas/message.ts'
import { TransientError } from '../external/errors.ts'
import { mongoCall } from '../external/mongo.ts'
import { writeInChunks } from '../external/mongo-bulk.ts'
import { ConfigSchema } from '../../config.ts'
import { reacted, replayed, threadWithoutReply, threadWithReply, type MessageStore, type ThreadState } from './store.ts'

export interface MongoStoreOptions {
  logger: FastifyBaseLogger
  /** Most statements in one bulk command (MONGO_BULK_MAX): larger batches are written in sequential chunks. */
  bulkMax?: number
}

type Applied = { epoch: string, offset: number }
/**
 * `applied`: the stream position of the last event applied (replays at or below it change nothing);
 * `reactionsApplied`: the same for the `reactions` stream; `threadApplied`: the position of the last
 * reply counted into the message's `thread`; `deleted`: a tombstone (with `thread`: a deleted parent,
 * still shown in history as a placeholder).
 */
type MessageDoc = Omit<Message, 'id'> & { _id: string, applied?: Applied, reactionsApplied?: Applied, threadApplied?: Applied, deleted?: boolean }

const toApplied = (position: Position): Applied => ({ epoch: position.epoch, offset: Number(position.offset) })
const toPosition = (applied: Applied | undefined): Position | undefined => applied && { epoch: applied.epoch, offset: String(applied.offset) }

const DUPLICATE_KEY = 11000
const writeErrors = (err: MongoBulkWriteError) => Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]

/**
 * `db` belongs to the app's shared client (plugins/external/mongo.ts, created with `ignoreUndefined`); it is
 * not closed here.
 */
export function createMongoStore (db: Db, options: MongoStoreOptions): MessageStore {
  const { logger, bulkMax = ConfigSchema.properties.MONGO_BULK_MAX.default } = options
  const messages: Collection<MessageDoc> = db.collection<MessageDoc>('messages')
  const where = `MongoDB (database ${db.databaseName})`
  let closed = false

  let indexes: Promise<unknown> | undefined
  function ensureIndexes () {
    if (!indexes) {
      indexes = Promise.all([
        // history pages: one channel, newest id first
        messages.createIndex({ channelId: 1, _id: -1 }, { name: 'channel_history' }),
        // a thread's replies, oldest first
        messages.createIndex({ parentId: 1, _id: 1 }, { name: 'thread_replies' })
      ])
      indexes.catch(() => { indexes = undefined }) // tried again by the next operation
    }
    return indexes
  }

  async function run<T> (what: string, op: () => Promise<T>): Promise<T> {
    if (closed) throw new Error('store is closed')
    try {
      return await mongoCall(db, what, async () => {
        await ensureIndexes()
        return await op()
      })
    } catch (err) {
      if (closed) throw new Error('store is closed')
      if (!(err instanceof TransientError)) logger.error({ err }, `MongoDB ${what} failed`)
      throw err
    }
  }

  const toDoc = ({ id, ...rest }: Message): MessageDoc => ({ _id: id, ...rest })
  const toMessage = ({ _id, applied: _a, reactionsApplied: _r, threadApplied: _t, deleted: _d, ...rest }: MessageDoc): Message => ({ id: _id, ...rest })
  const toHistory = (doc: MessageDoc): HistoryMessage => doc.deleted
    ? { id: doc._id, channelId: doc.channelId, deleted: true, thread: doc.thread!, ...(doc.position ? { position: doc.position } : {}) }
    : toMessage(doc)
  // in history: not deleted, or a deleted parent with replies; not a reply, unless also in the channel
  const inHistory: Filter<MessageDoc> = {
    $and: [
      { $or: [{ deleted: { $ne: true } }, { 'thread.replyCount': { $gt: 0 } }] },
      { $or: [{ parentId: { $exists: false } }, { alsoInChannel: true }] }
    ]
  }

  /**
   * The parent updates of a batch's replies, posted (counted in) and deleted (counted out), each
   * computed from the parent as read and written only if no reply event at or after the last one
   * counted has been (a replay, or a stale consumer): a read of the deleted replies (batches with
   * deletions only), one of the parents, and `$set`s that go first in the batch's ordered bulk write
   * (before a reply's tombstone: a redelivery that finds the reply still there is guarded by the
   * parent's position, while one that found it deleted would not count it out).
   */
  async function threadUpdates (changes: Parameters<MessageStore['apply']>[0]) {
    const deleting = changes.flatMap((c) => c.type === 'delete' ? [c.id] : [])
    const deletedReplies = deleting.length === 0
      ? new Map<string, string>()
      : new Map((await run('thread', () => messages.find({ _id: { $in: deleting }, parentId: { $exists: true }, deleted: { $ne: true } } as Filter<MessageDoc>, { projection: { parentId: 1 } }).toArray())).map((d) => [d._id, d.parentId!]))
    // the batch's reply events, in stream order: +1 a reply posted, -1 a live reply deleted
    const counted = changes.flatMap((c) => c.type === 'create' && c.message.parentId !== undefined
      ? [{ parentId: c.message.parentId, position: c.position, reply: c.message as Message | null }]
      : c.type === 'delete' && deletedReplies.has(c.id) ? [{ parentId: deletedReplies.get(c.id)!, position: c.position, reply: null }] : [])
    if (counted.length === 0) return { updates: [], threads: [] }
    const parentIds = [...new Set(counted.map(({ parentId }) => parentId))]
    const parents = await run('thread', () => messages.find({ _id: { $in: parentIds } }, { projection: { channelId: 1, thread: 1, threadApplied: 1 } }).toArray())
    const updates: AnyBulkWriteOperation<MessageDoc>[] = []
    const threads: ThreadState[] = []
    for (const parent of parents) {
      const read = toPosition(parent.threadApplied)
      let { thread } = parent
      let last = read
      for (const { parentId, position, reply } of counted) {
        if (parentId !== parent._id || replayed(position, last)) continue
        thread = reply ? threadWithReply(thread, reply) : threadWithoutReply(thread)
        last = position
      }
      if (!thread) continue
      threads.push({ id: parent._id, channelId: parent.channelId, thread })
      if (last === read) continue
      const applied = toApplied(last!)
      const newer = { $or: [{ 'threadApplied.epoch': { $ne: applied.epoch } }, { 'threadApplied.offset': { $lt: applied.offset } }] }
      updates.push({ updateOne: { filter: { _id: parent._id, ...newer }, update: { $set: { thread, threadApplied: applied } } } })
    }
    return { updates, threads }
  }

  async function insertOnce (docs: MessageDoc[]) {
    try {
      await messages.insertMany(docs, { ordered: false })
    } catch (err) {
      // Only when every failure is a duplicate (and there were failures): a bulk error without
      // write errors is a failure of the whole request (the network, a shutdown) and is retried.
      if (err instanceof MongoBulkWriteError) {
        const errors = writeErrors(err)
        if (errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY) && err.result.insertedCount + errors.length === docs.length) return
        logger.warn({ err, writeErrors: errors.length, inserted: err.result?.insertedCount, docs: docs.length }, 'insertMany failed')
      }
      throw err
    }
  }

  return {
    kind: 'mongo',
    async apply (changes) {
      const creates: MessageDoc[] = []
      const tombstones: MessageDoc[] = []
      const updates: AnyBulkWriteOperation<MessageDoc>[] = []
      for (const change of changes) {
        const applied = toApplied(change.position)
        // an event at or below the last one applied to the message (a replay) matches nothing
        const newer = { $or: [{ 'applied.epoch': { $ne: applied.epoch } }, { 'applied.offset': { $lt: applied.offset } }] }
        if (change.type === 'create') {
          creates.push({ ...toDoc(change.message), applied })
        } else if (change.type === 'update') {
          updates.push({ updateOne: { filter: { _id: change.id, deleted: { $ne: true }, ...newer }, update: { $set: { ...change.changes, applied } } } })
        } else {
          // the tombstone is inserted when the message never reached the store, else the message becomes one
          tombstones.push({ _id: change.id, channelId: change.channelId, deleted: true, applied } as MessageDoc)
          updates.push({ updateOne: { filter: { _id: change.id, ...newer }, update: { $set: { deleted: true, applied }, $unset: { content: '', editedAt: '', reactions: '', reactionsApplied: '', senderId: '', senderName: '' } } } })
        }
      }
      // A duplicate id means "already stored" (a redelivered create, or a tombstone): not an error.
      // Inserts go in one command each: FerretDB's hang comes from statements that match documents
      // (updates), never from inserts, duplicates included (measured: docs/known-limits.md).
      if (creates.length) await run('insert', () => insertOnce(creates))
      if (tombstones.length) await run('delete', () => insertOnce(tombstones))
      // after the inserts: a batch may hold both a parent and its first replies
      const { updates: threadSets, threads } = await threadUpdates(changes)
      updates.unshift(...threadSets)
      // ordered across chunks: the next chunk only after the previous one, none after a failure
      if (updates.length) await run('update', () => writeInChunks(updates, bulkMax, (chunk) => messages.bulkWrite(chunk, { ordered: true })))
      return threads
    },
    async react (id, emoji, userId, on, position) {
      // No user string becomes a field path (`reactions.<emoji>` would let `.` or `$` address
      // other fields): the reactions object is read, changed and written back whole, only if it is
      // still what was read (compare-and-set), so concurrent and redelivered reactions compose.
      // With the event's position, the write also moves `reactionsApplied` forward, and a reaction
      // at or below it (a replay, a stale consumer's write) changes nothing.
      const applied = position && { epoch: position.epoch, offset: Number(position.offset) }
      for (let attempt = 0; attempt < REACT_ATTEMPTS; attempt++) {
        // a deleted message's tombstone (`deleted: true`) takes no reactions
        const doc = await run('react', () => messages.findOne({ _id: id, deleted: { $ne: true } } as Filter<MessageDoc>, { projection: { reactions: 1, reactionsApplied: 1 } }))
        if (!doc) return null
        const last = doc.reactionsApplied && { epoch: doc.reactionsApplied.epoch, offset: String(doc.reactionsApplied.offset) }
        if (position && replayed(position, last)) return doc.reactions ?? {}
        const next = reacted(doc.reactions, emoji, userId, on)
        if (!next) return doc.reactions ?? {} // a repeat: already so
        // $eq: what was read is compared as a value, never read as operators or paths
        const unchanged = doc.reactions === undefined ? { $exists: false } : { $eq: doc.reactions }
        const unmoved = doc.reactionsApplied === undefined ? { $exists: false } : { $eq: doc.reactionsApplied }
        const written = await run('react', () => messages.updateOne(
          { _id: id, deleted: { $ne: true }, reactions: unchanged, reactionsApplied: unmoved } as Filter<MessageDoc>,
          { $set: { reactions: next, ...(applied ? { reactionsApplied: applied } : {}) } }
        ))
        if (written.matchedCount > 0) return next
      }
      throw new TransientError(`${where}: reactions of message ${id} kept changing under ${REACT_ATTEMPTS} attempts`)
    },
    async get (id) {
      const doc = await run('get', () => messages.findOne({ _id: id, deleted: { $ne: true } }))
      return doc ? toMessage(doc) : null
    },
    async page (channelId, { before, limit }) {
      const filter: Filter<MessageDoc> = before === undefined ? { channelId, ...inHistory } : { channelId, _id: { $lt: before }, ...inHistory }
      const docs = await run('page', () => messages.find(filter).sort({ _id: -1 }).limit(limit).toArray())
      return docs.map(toHistory)
    },
    async replies (parentId, { after, limit }) {
      const filter: Filter<MessageDoc> = after === undefined ? { parentId, deleted: { $ne: true } } : { parentId, _id: { $gt: after }, deleted: { $ne: true } }
      const docs = await run('replies', () => messages.find(filter).sort({ _id: 1 }).limit(limit).toArray())
      return docs.map(toMessage)
    },
    async deletedParent (id) {
      const doc = await run('get', () => messages.findOne({ _id: id, deleted: true, 'thread.replyCount': { $gt: 0 } } as Filter<MessageDoc>))
      return doc ? toHistory(doc) as DeletedParent : null
    },
    async ping () {
      if (closed) throw new Error('store is closed')
      await mongoCall(db, 'ping', () => db.command({ ping: 1 }))
    },
    async close () { closed = true }
  }
}

const REACT_ATTEMPTS = 20
