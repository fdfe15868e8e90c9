// The channel store on MongoDB: collection `channels`, `_id` = the channel id, members in an array
// changed with $addToSet / $pull, so concurrent membership changes never overwrite each other.
import type { FastifyBaseLogger } from 'fastify'
import type { Collection, Db } from 'mongodb'
import { mongoCall } from '../external/mongo.ts'
import type { Channel, ChannelStore } from './channels.ts'

export interface MongoChannelStoreOptions { logger: FastifyBaseLogger }

type ChannelDoc = Omit<Channel, 'id'> & { _id: string }

const DUPLICATE_KEY = 11000

/** `db` belongs to the app's shared client (plugins/external/mongo.ts); it is not closed here. */
export function createMongoChannelStore (db: Db, options: MongoChannelStoreOptions): ChannelStore {
  const channels: Collection<ChannelDoc> = db.collection<ChannelDoc>('channels')

  async function run<T> (what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await mongoCall(db, `channel ${what}`, op)
    } catch (err) {
      if ((err as Error).name !== 'TransientError') options.logger.error({ err }, `MongoDB channel ${what} failed`)
      throw err
    }
  }

  const toChannel = ({ _id, ...rest }: ChannelDoc): Channel => ({ id: _id, ...rest })
  // Filters always compare _id with a string: a value from a request can never act as an operator.
  const byId = (id: string) => ({ _id: String(id) })

  return {
    kind: 'mongo',
    async create ({ id, ...rest }) {
      return run('create', async () => {
        try {
          await channels.insertOne({ _id: String(id), ...rest })
          return true
        } catch (err) {
          if ((err as { code?: unknown }).code === DUPLICATE_KEY) return false
          throw err
        }
      })
    },
    async get (id) {
      const doc = await run('read', () => channels.findOne(byId(id)))
      return doc ? toChannel(doc) : null
    },
    async addMember (id, userId) {
      const result = await run('update', () => channels.updateOne(byId(id), { $addToSet: { members: String(userId) } }))
      return result.matchedCount === 1
    },
    async removeMember (id, userId) {
      const result = await run('update', () => channels.updateOne(byId(id), { $pull: { members: String(userId) } }))
      return result.matchedCount === 1
    },
    async ping () { await run('ping', () => db.command({ ping: 1 })) },
    async close () {}
  }
}
