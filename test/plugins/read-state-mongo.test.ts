import t from 'tap'
import { createMongoReadState } from '../../plugins/read-state/mongo.ts'
import { readStateContract } from '../contracts/read-state.ts'
import { cleanupReal, mongoDatabase, realNames, requireService, testLogger } from '../services.ts'

if (await requireService(t, 'mongo')) {
  const { database } = realNames('readstate')
  t.teardown(() => cleanupReal({ database }))
  const db = mongoDatabase(t, database)
  let n = 0
  readStateContract(t, async () => createMongoReadState(db, { logger: testLogger() }), () => `c${++n}`)

  t.test('counts have their index ranges; one marker per user and channel', async (t) => {
    const store = createMongoReadState(db, { logger: testLogger() })
    t.teardown(() => store.close())
    await store.count('warm-up', 'alice', null, 1) // creates the indexes
    const names = (await db.collection('read_index').indexes()).map((i) => i.name)
    t.ok(names.includes('channel_position') && names.includes('mentions_position'), 'unread and mention counts are ranges of an index')
    const unique = (await db.collection('read_markers').indexes()).find((i) => i.name === 'user_channel')
    t.ok(unique?.unique, 'markers: unique per user and channel')
  })
}
