// Placeholder until the mongodb implementation lands (issue 3).
import type { FastifyBaseLogger } from 'fastify'
import type { MessageStore, StoreOptions } from './store.ts'

export interface MongoStoreOptions extends StoreOptions { url: string, logger: FastifyBaseLogger }

export function createMongoStore (_options: MongoStoreOptions): MessageStore {
  throw new Error('MONGO_URL is set but the MongoDB store is not built yet')
}
