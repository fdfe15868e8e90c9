import t from 'tap'
import { MongoClient } from 'mongodb'
import { createMongoStore } from '../../plugins/store/mongo.ts'
import { storeContract } from '../contracts/store.ts'
import { message } from '../contracts/cache.ts'
import { cleanupReal, mongoDatabase, realNames, requireService, services, testLogger } from '../services.ts'

if (await requireService(t, 'mongo')) {
  const { database } = realNames('store')
  t.teardown(() => cleanupReal({ database }))
  const db = mongoDatabase(t, database)
  const make = () => createMongoStore(db, { logger: testLogger() })
  let n = 0
  storeContract(t, async () => make(), () => `s${++n}`)

  t.test('documents are keyed by the message id and history has its index', async (t) => {
    const store = make()
    t.teardown(() => store.close())
    const m = message(`d${++n}`, 'hello', { editedAt: undefined })
    await store.apply([{ type: 'create', message: m, position: { epoch: 'e', offset: '0' } }])
    const client = new MongoClient(services.mongo)
    t.teardown(() => client.close())
    const doc = await client.db(database).collection('messages').findOne({ _id: m.id as any })
    t.equal(doc?.channelId, m.channelId)
    t.notOk(doc && 'id' in doc, 'no id field besides _id')
    t.notOk(doc && 'editedAt' in doc, 'undefined fields are not stored')
    const indexes = await client.db(database).collection('messages').indexes()
    t.ok(indexes.some((i) => i.name === 'channel_history'), 'channel history index')
  })

  t.test('an unreachable MongoDB fails with an error that names it, and ping fails', async (t) => {
    const store = createMongoStore(mongoDatabase(t, database, 'mongodb://127.0.0.1:1'), { logger: testLogger() })
    t.teardown(() => store.close())
    await t.rejects(store.get('ffffffffffffffffffffffff'), { name: 'TransientError', message: /MongoDB .* unavailable/ })
    await t.rejects(store.ping(), { name: 'TransientError' })
  })
}
