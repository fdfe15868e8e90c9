import t from 'tap'
import { pino } from 'pino'
import { coalesce } from '../../plugins/read-state/store.ts'
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

  t.test('a marker that does not move is an answer, not an error: nothing is logged', async (t) => {
    const errors: string[] = []
    const logger = pino({ level: 'error' }, { write: (line: string) => { errors.push(line) } })
    const store = createMongoReadState(db, { logger })
    t.teardown(() => store.close())
    const marker = (offset: number, applied: number) => ({ userId: 'alice', channelId: 'quiet-log', messageId: offset.toString(16).padStart(24, '0'), position: { epoch: 'e', offset: String(offset) }, unread: false, at: new Date().toISOString(), applied: { epoch: 'e', offset: String(applied) } })
    t.equal((await store.mark(coalesce([marker(5, 1)]))).length, 1, 'the first marker moves')
    t.same(await store.mark(coalesce([marker(3, 2)])), [], 'an older one does not (the unique index refuses its upsert)')
    t.same(errors, [], 'and no error is logged for it')
  })
}
