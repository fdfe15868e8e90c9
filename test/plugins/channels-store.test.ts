import t from 'tap'
import { createEmbeddedChannelStore } from '../../plugins/channels/embedded.ts'
import { createMongoChannelStore } from '../../plugins/channels/mongo.ts'
import { channelStoreContract } from '../contracts/channels.ts'
import { cleanupReal, mongoDatabase, realNames, requireService, testLogger } from '../services.ts'

let n = 0
const unique = () => `ch${++n}`

t.test('embedded', async (t) => channelStoreContract(t, async () => createEmbeddedChannelStore(), unique))

t.test('mongo', async (t) => {
  if (!await requireService(t, 'mongo')) return
  const { database } = realNames('channels')
  t.teardown(() => cleanupReal({ database }))
  const db = mongoDatabase(t, database)
  const build = await db.admin().command({ buildInfo: 1 })
  // as in store-reactions.test.ts: the stand-in server loses concurrent updates of one document
  const atomic = build.ferretdbVersion ? `FerretDB ${build.ferretdbVersion} applies concurrent updates to one document non-atomically ($addToSet / $pull lose updates)` : true
  channelStoreContract(t, async () => createMongoChannelStore(db, { logger: testLogger() }), unique, atomic)

  t.test('an unreachable MongoDB fails with an error that names it, and ping fails', async (t) => {
    const store = createMongoChannelStore(mongoDatabase(t, database, 'mongodb://127.0.0.1:1'), { logger: testLogger() })
    await t.rejects(store.get('x'), { name: 'TransientError', message: new RegExp(`MongoDB \\(database ${database}\\) unavailable: channel read failed`) })
    await t.rejects(store.ping(), { name: 'TransientError' })
  })
})
