// Pins on MongoDB: collection `pins`, one document per channel and message with its last change's
// version; a change is an upsert conditional on a lower version, so a replay or an older change
// that arrives late matches nothing and its insert fails on the existing _id (ignored).
import type { FastifyBaseLogger } from 'fastify'
import type { Collection, Db } from 'mongodb'
import { mongoCall } from '../external/mongo.ts'
import { TransientError } from '../external/errors.ts'
import type { PinStore } from './pins.ts'

export interface MongoPinStoreOptions { logger: FastifyBaseLogger }

interface PinDoc { _id: string, channelId: string, messageId: string, pinned: boolean, pinnedBy?: string, pinnedAt?: string, version: number }

const DUPLICATE_KEY = 11000

/** `db` belongs to the app's shared client (plugins/external/mongo.ts); it is not closed here. */
export function createMongoPinStore (db: Db, options: MongoPinStoreOptions): PinStore {
  const pins: Collection<PinDoc> = db.collection<PinDoc>('pins')

  let indexes: Promise<unknown> | undefined
  const ensureIndexes = () => {
    if (!indexes) {
      // a channel's pins, newest first
      indexes = pins.createIndex({ channelId: 1, pinned: 1, pinnedAt: -1, version: -1 }, { name: 'channel_pins' })
      indexes.catch(() => { indexes = undefined }) // tried again by the next operation
    }
    return indexes
  }

  async function run<T> (what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await mongoCall(db, `pin ${what}`, async () => { await ensureIndexes(); return await op() })
    } catch (err) {
      if (!(err instanceof TransientError)) options.logger.error({ err }, `MongoDB pin ${what} failed`)
      throw err
    }
  }

  return {
    kind: 'mongo',
    async apply ({ channelId, messageId, pinned, userId, at, version }) {
      // channel ids cannot hold '/' (schemas/message.ts), so the pair names one document
      const _id = `${String(channelId)}/${String(messageId)}`
      const set = pinned
        ? { channelId: String(channelId), messageId: String(messageId), pinned, pinnedBy: String(userId), pinnedAt: at, version }
        : { channelId: String(channelId), messageId: String(messageId), pinned, version }
      return run('write', async () => {
        // pinned again: who pinned it and when stay the first pin's, only the version moves
        if (pinned) {
          const again = await pins.updateOne({ _id, pinned: true, version: { $lt: version } }, { $set: { version } })
          if (again.matchedCount > 0) return true
        }
        try {
          const result = await pins.updateOne({ _id, version: { $lt: version } }, { $set: set }, { upsert: true })
          return result.modifiedCount + result.upsertedCount > 0
        } catch (err) {
          if ((err as { code?: unknown }).code === DUPLICATE_KEY) return false
          throw err
        }
      })
    },
    async list (channelId) {
      const docs = await run('read', () => pins.find({ channelId: String(channelId), pinned: true }).sort({ pinnedAt: -1, version: -1 }).limit(10_000).toArray())
      return docs.map((d) => ({ channelId: d.channelId, messageId: d.messageId, pinnedBy: d.pinnedBy ?? '', pinnedAt: d.pinnedAt ?? '', version: d.version }))
    },
    async ping () { await run('ping', () => db.command({ ping: 1 })) },
    async close () {}
  }
}
