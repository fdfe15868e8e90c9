import t from 'tap'
import { createEmbeddedPinStore } from '../../plugins/pins/embedded.ts'
import { createMongoPinStore } from '../../plugins/pins/mongo.ts'
import { pinStoreContract } from '../contracts/pins.ts'
import { cleanupReal, mongoDatabase, realNames, requireService, testLogger } from '../services.ts'

let n = 0
const unique = () => `pins${++n}`

t.test('embedded', async (t) => pinStoreContract(t, async () => createEmbeddedPinStore(), unique))

t.test('mongo', async (t) => {
  if (!await requireService(t, 'mongo')) return
  const { database } = realNames('pins')
  t.teardown(() => cleanupReal({ database }))
  const db = mongoDatabase(t, database)
  pinStoreContract(t, async () => createMongoPinStore(db, { logger: testLogger() }), unique)

  t.test('an unreachable MongoDB fails with an error that names it', async (t) => {
    const store = createMongoPinStore(mongoDatabase(t, database, 'mongodb://127.0.0.1:1'), { logger: testLogger() })
    await t.rejects(store.list('x'), { name: 'TransientError', message: new RegExp(`MongoDB \\(database ${database}\\) unavailable: pin read failed`) })
  })
})
