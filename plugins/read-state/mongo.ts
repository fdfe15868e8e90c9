// Read state on MongoDB, in the app's one database: `read_markers` (one document per user and
// channel), `read_index` (one slim document per message: what the counts filter on) and
// `read_settings` (one per user who changed a setting). Offsets are stored as numbers so that
// "after the marker" is an index range.
import type { FastifyBaseLogger } from 'fastify'
import { MongoBulkWriteError, MongoServerError, type Collection, type Db, type Filter } from 'mongodb'
import type { Position } from '../../schemas/message.ts'
import { TransientError } from '../external/errors.ts'
import { mongoCall } from '../external/mongo.ts'
import type { Marker, ReadStateStore } from './store.ts'

interface Place { epoch: string, offset: number }
interface MarkerDoc { userId: string, channelId: string, messageId: string | null, position: Place | null, readAt: string, applied?: Place, implicit?: boolean }
interface IndexDoc { _id: string, channelId: string, senderId: string, epoch: string, offset: number, mentions?: string[], parentId?: string, deleted?: boolean }
interface SettingsDoc { _id: string, receipts: boolean }

const DUPLICATE_KEY = 11000
const place = (p: Position): Place => ({ epoch: p.epoch, offset: Number(p.offset) })
const position = (p: Place | null): Position | null => p && { epoch: p.epoch, offset: String(p.offset) }
const toMarker = (d: MarkerDoc): Marker => ({ userId: d.userId, channelId: d.channelId, messageId: d.messageId, position: position(d.position), readAt: d.readAt, ...(d.implicit ? { implicit: true } : {}) })
/** Documents whose `field` is not at or after `p` (absent, null, another epoch, or lower). */
const below = (field: string, p: Place) => ({ $or: [{ [`${field}.epoch`]: { $ne: p.epoch } }, { [`${field}.offset`]: { $lt: p.offset } }] })

export function createMongoReadState (db: Db, { logger }: { logger: FastifyBaseLogger }): ReadStateStore {
  const markers: Collection<MarkerDoc> = db.collection<MarkerDoc>('read_markers')
  const index: Collection<IndexDoc> = db.collection<IndexDoc>('read_index')
  const settings: Collection<SettingsDoc> = db.collection<SettingsDoc>('read_settings')
  let closed = false
  let indexes: Promise<unknown> | undefined
  function ensureIndexes () {
    indexes ??= Promise.all([
      markers.createIndex({ userId: 1, channelId: 1 }, { unique: true, name: 'user_channel' }),
      markers.createIndex({ channelId: 1, 'position.epoch': 1, 'position.offset': 1 }, { name: 'channel_readers' }),
      // unread: a range after the marker within one channel; mentions: the same per mentioned user
      index.createIndex({ channelId: 1, epoch: 1, offset: 1 }, { name: 'channel_position' }),
      index.createIndex({ mentions: 1, channelId: 1, epoch: 1, offset: 1 }, { name: 'mentions_position', sparse: true })
    ])
    indexes.catch(() => { indexes = undefined }) // tried again by the next operation
    return indexes
  }
  async function run<T> (what: string, op: () => Promise<T>): Promise<T> {
    if (closed) throw new Error('read-state store is closed')
    try {
      return await mongoCall(db, what, async () => { await ensureIndexes(); return await op() })
    } catch (err) {
      // a duplicate key is an answer, not a failure: a marker that did not move (see mark), a default already there
      if (!(err instanceof TransientError) && !onlyDuplicates(err)) logger.error({ err }, `MongoDB read state ${what} failed`)
      throw err
    }
  }
  async function receiptsOff (userIds: string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set()
    const docs = await run('settings', () => settings.find({ _id: { $in: userIds }, receipts: false }).toArray())
    return new Set(docs.map((d) => d._id))
  }
  const duplicate = (err: unknown) => err instanceof MongoServerError && err.code === DUPLICATE_KEY
  const onlyDuplicates = (err: unknown) => err instanceof MongoBulkWriteError ? [err.writeErrors].flat().every((e) => e.code === DUPLICATE_KEY) : duplicate(err)

  return {
    kind: 'mongo',
    async mark (changes) {
      // One conditional upsert per change, side by side. A stored marker the condition excludes
      // (a replay, or not further on) makes the upsert try an insert, which the unique index refuses:
      // nothing moved.
      const moved = await Promise.all(changes.map(async (change) => {
        const applied = place(change.applied)
        const conditions: Filter<MarkerDoc>[] = [below('applied', applied)]
        if (change.mode === 'forward' && change.position) conditions.push(below('position', place(change.position)))
        const doc: MarkerDoc = { userId: change.userId, channelId: change.channelId, messageId: change.messageId, position: change.position && place(change.position), readAt: change.readAt, applied }
        try {
          const result = await run('mark', () => markers.updateOne(
            { userId: change.userId, channelId: change.channelId, $and: conditions },
            { $set: doc, $unset: { implicit: '' } },
            { upsert: true }
          ))
          if (result.modifiedCount + result.upsertedCount > 0) return toMarker(doc)
        } catch (err) {
          if (!duplicate(err)) throw err
        }
        // not moved: unless this very record is the one it last took (a retried batch)
        const same = await run('mark', () => markers.findOne({ userId: change.userId, channelId: change.channelId, applied: { $eq: applied } }))
        return same && toMarker(same)
      }))
      return moved.filter((m) => m !== null)
    },
    async ensure (list) {
      if (list.length === 0) return
      await run('ensure', () => markers.bulkWrite(list.map((m) => ({
        updateOne: {
          filter: { userId: m.userId, channelId: m.channelId },
          update: { $setOnInsert: { userId: m.userId, channelId: m.channelId, messageId: m.messageId, position: m.position && place(m.position), readAt: m.readAt, implicit: true } },
          upsert: true
        }
      })), { ordered: false })).catch((err: unknown) => {
        // two upserts of one new marker at once: the loser's insert is refused, the marker exists
        if (err instanceof MongoBulkWriteError && [err.writeErrors].flat().every((e) => e.code === DUPLICATE_KEY)) return
        throw err
      })
    },
    async markers (userId) {
      return (await run('markers', () => markers.find({ userId }).toArray())).map(toMarker)
    },
    async index (changes) {
      if (changes.length === 0) return
      await run('index', () => index.bulkWrite(changes.map((c) => c.type === 'create'
        ? {
            updateOne: {
              // once: a replayed create finds it (or its deletion) and changes nothing
              filter: { _id: c.message.id },
              update: { $setOnInsert: { channelId: c.message.channelId, senderId: c.message.senderId, ...place(c.message.position), ...(c.message.mentions.length ? { mentions: c.message.mentions } : {}), ...(c.message.parentId !== undefined ? { parentId: c.message.parentId } : {}) } },
              upsert: true
            }
          }
        : { updateOne: { filter: { _id: c.id }, update: { $set: { deleted: true } } } }), { ordered: true }))
    },
    async head (channelId) {
      const last = await run('head', () => index.find({ channelId }).sort({ epoch: -1, offset: -1 }).limit(1).next())
      return last ? { messageId: last._id, position: { epoch: last.epoch, offset: String(last.offset) } } : null
    },
    async count (channelId, userId, after, max) {
      const range = after ? { channelId, epoch: after.epoch, offset: { $gt: Number(after.offset) } } : { channelId }
      // bounded by the cap, not by the channel's history: each count stops at max + 1
      const [unread, mentions] = await Promise.all([
        run('count', () => index.countDocuments({ ...range, senderId: { $ne: userId }, deleted: { $ne: true }, parentId: { $exists: false } }, { limit: max + 1 })),
        run('count', () => index.countDocuments({ mentions: userId, ...range, deleted: { $ne: true } }, { limit: max + 1 }))
      ])
      return { unread, mentions }
    },
    async readers (channelId, max) {
      return await run('readers', () => markers.countDocuments({ channelId }, { limit: max + 1 }))
    },
    async readBy (channelId, at, max) {
      const from = place(at)
      const found = await run('readBy', () => markers.find({ channelId, 'position.epoch': from.epoch, 'position.offset': { $gte: from.offset } }).limit(max).toArray())
      const off = await receiptsOff(found.map((m) => m.userId))
      return found.filter((m) => !off.has(m.userId)).map(toMarker)
    },
    receiptsOff,
    async setReceipts (userId, on) {
      await run('settings', () => settings.updateOne({ _id: userId }, { $set: { receipts: on } }, { upsert: true }))
    },
    async ping () {
      if (closed) throw new Error('read-state store is closed')
      await mongoCall(db, 'ping', () => db.command({ ping: 1 }))
    },
    async close () { closed = true }
  }
}
