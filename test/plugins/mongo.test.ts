// The shared MongoDB client: one error mapping, and a MongoDB that is down at start is used once it is back.
import t from 'tap'
import { createMongoChannelStore } from '../../plugins/channels/mongo.ts'
import { closeMongoClient, createMongoClient, reconnecting } from '../../plugins/mongo.ts'
import { TcpProxy } from '../proxy.ts'
import { address, cleanupReal, realNames, requireService, testLogger } from '../services.ts'

if (await requireService(t, 'mongo')) {
  const { database } = realNames('mongo-client')
  t.teardown(() => cleanupReal({ database }))

  t.test('down at start, then back: operations fail with a transient error naming MongoDB, then work', async (t) => {
    const proxy = await TcpProxy.start(address('mongo'))
    t.teardown(() => proxy.close())
    await proxy.cut()
    const client = createMongoClient(`mongodb://127.0.0.1:${proxy.port}/?directConnection=true`)
    t.teardown(() => closeMongoClient(client))
    const store = createMongoChannelStore(client.db(database), { logger: testLogger() })
    await t.rejects(store.get('x'), { name: 'TransientError', message: new RegExp(`MongoDB \\(database ${database}\\) unavailable: channel read failed`) }, 'the first connection fails')
    await t.rejects(store.get('x'), { name: 'TransientError', message: /reconnecting/ }, 'the driver gave up on its topology: the app reconnects')
    await reconnecting(client)
    await proxy.restore()
    await t.rejects(store.get('x'), { name: 'TransientError' }, 'the reconnect while down failed; this try starts another')
    await reconnecting(client)
    t.equal(await store.get('x'), null, 'MongoDB is back: the same client answers')
    t.equal(await store.create({ id: 'c', name: 'c', private: false, ownerId: 'a', members: ['a'], createdAt: new Date().toISOString() }), true)
  })

  t.test('a client closed by its owner is not reconnected', async (t) => {
    const client = createMongoClient('mongodb://127.0.0.1:1')
    const store = createMongoChannelStore(client.db(database), { logger: testLogger() })
    await closeMongoClient(client)
    await t.rejects(store.get('x'))
    t.equal(reconnecting(client), undefined)
  })
}
