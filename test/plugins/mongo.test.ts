// The shared MongoDB client: one error mapping, and a MongoDB that is down at start is used once it is back.
import t from 'tap'
import { MongoBulkWriteError, MongoInvalidArgumentError, MongoNetworkError, MongoServerSelectionError, type BulkWriteResult, type TopologyDescription } from 'mongodb'
import { createMongoChannelStore } from '../../plugins/channels/mongo.ts'
import { closeMongoClient, createMongoClient, isTransientMongoError, reconnecting } from '../../plugins/external/mongo.ts'
import { createMongoStore } from '../../plugins/store/mongo.ts'
import { TcpProxy } from '../proxy.ts'
import { address, cleanupReal, realNames, requireService, testLogger } from '../services.ts'

t.test('a batch write that failed as a whole is transient when what the driver wrapped is: an outage is waited out, a bad request is not', async (t) => {
  // the driver's own wrapping (bulk/common.js: `new MongoBulkWriteError(thrownError, result)`)
  const wrapped = (err: Error | object) => new MongoBulkWriteError(err as never, {} as BulkWriteResult)
  const selection = new MongoServerSelectionError('Server selection timed out after 2500 ms', { type: 'Unknown', servers: new Map() } as unknown as TopologyDescription)
  t.ok(isTransientMongoError(wrapped(selection)), 'a server selection that timed out (an outage that lasts)')
  t.ok(isTransientMongoError(wrapped(new MongoNetworkError('connection reset'))), 'a network error')
  t.notOk(isTransientMongoError(wrapped(new MongoInvalidArgumentError('bad option'))), 'a bad request')
  t.notOk(isTransientMongoError(wrapped({ message: 'E11000 duplicate key', code: 11000, writeErrors: [{ code: 11000 }] })), 'a duplicate key (the data\'s)')
})

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

  t.test('batch writes cut off mid-way are transient (a topic handler waits for MongoDB, it does not dead-letter the batch)', async (t) => {
    const proxy = await TcpProxy.start(address('mongo'))
    t.teardown(() => proxy.close())
    const client = createMongoClient(`mongodb://127.0.0.1:${proxy.port}/?directConnection=true`)
    t.teardown(() => closeMongoClient(client))
    const store = createMongoStore(client.db(database), { logger: testLogger() })
    const message = (id: string, offset: number) => ({ id, channelId: 'ch', senderId: 'u', senderName: 'u', content: id, createdAt: new Date().toISOString(), position: { epoch: 'e', offset: String(offset) } })
    const create = (id: string, offset: number) => ({ type: 'create' as const, message: message(id, offset), position: { epoch: 'e', offset: String(offset) } })
    await store.apply([create('m1', 1)]) // connected, with the connection pooled
    await proxy.cut()
    // insertMany and bulkWrite fail as MongoBulkWriteError carrying the socket's error, not a MongoNetworkError
    await t.rejects(store.apply([create('m2', 2), create('m3', 3)]), { name: 'TransientError', message: /MongoDB \(database .*\) unavailable: insert failed/ }, 'the batch insert')
    await t.rejects(store.apply([{ type: 'update', id: 'm1', channelId: 'ch', changes: { content: 'edited', editedAt: new Date().toISOString() }, position: { epoch: 'e', offset: '4' } }]), { name: 'TransientError', message: /unavailable: update failed/ }, 'the batch update')
    await proxy.restore()
    for (;;) { // the pool reconnects on the next operations; each failure meanwhile is still transient
      try { await store.apply([create('m2', 2), create('m3', 3)]); break } catch (err) { t.equal((err as Error).name, 'TransientError', 'while reconnecting: transient'); await reconnecting(client) }
    }
    t.same((await store.page('ch', { limit: 10 })).map((m) => m.id).sort(), ['m1', 'm2', 'm3'], 'stored once MongoDB is back')
  })

  t.test('a client closed by its owner is not reconnected', async (t) => {
    const client = createMongoClient('mongodb://127.0.0.1:1')
    const store = createMongoChannelStore(client.db(database), { logger: testLogger() })
    await closeMongoClient(client)
    await t.rejects(store.get('x'))
    t.equal(reconnecting(client), undefined)
  })
}
