import t from 'tap'
import { pino } from 'pino'
import { MongoClient, type CommandStartedEvent } from 'mongodb'
import { coalesce, type BatchSpan, type IndexChange } from '../../plugins/read-state/store.ts'
import { createMongoReadState } from '../../plugins/read-state/mongo.ts'
import { createRedisCounterMirror } from '../../plugins/read-state/counter-mirror.ts'
import { TransientError } from '../../plugins/external/errors.ts'
import { readStateContract } from '../contracts/read-state.ts'
import { cleanupReal, mongoDatabase, realNames, redisClient, requireService, requireServices, services, testLogger } from '../services.ts'

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

  t.test('an unread request is three reads whatever the history: markers carry their number, no count, no scan', async (t) => {
    const client = new MongoClient(services.mongo, { monitorCommands: true, ignoreUndefined: true })
    t.teardown(() => client.close())
    const commands: CommandStartedEvent[] = []
    client.on('commandStarted', (e) => commands.push(e))
    const store = createMongoReadState(client.db(database), { logger: testLogger() })
    t.teardown(() => store.close())
    const id = (ch: number, n: number) => (0x7000000 + ch * 100_000 + n).toString(16).padStart(24, '0')
    const fill = async (channelId: string, ch: number, from: number, count: number) => {
      const changes: IndexChange[] = Array.from({ length: count }, (_v, i) => ({ type: 'create', at: new Date().toISOString(), message: { id: id(ch, from + i), channelId, senderId: 'bob', position: { epoch: 'e', offset: String(from + i) }, mentions: (from + i) % 10 === 0 ? ['reader'] : [] } }))
      for (let i = 0; i < changes.length; i += 200) await store.index(changes.slice(i, i + 200))
    }
    const channels = ['count-a', 'count-b', 'count-c']
    for (const [i, c] of channels.entries()) await fill(c, i, 0, 20)
    // the reader's markers: one set by the reader (numbered from its message), one marked unread, and in count-b the default of the first mention (before the first message)
    await store.mark(coalesce([
      { userId: 'reader', channelId: 'count-a', messageId: id(0, 4), position: { epoch: 'e', offset: '4' }, unread: false, at: new Date().toISOString(), applied: { epoch: 'r', offset: '1' } },
      { userId: 'reader', channelId: 'count-c', messageId: id(2, 9), position: { epoch: 'e', offset: '9' }, unread: true, at: new Date().toISOString(), applied: { epoch: 'r', offset: '2' } }
    ]))
    const request = async () => {
      commands.length = 0
      const markers = await store.markers('reader')
      const counts = await store.unread('reader', markers, 999)
      return { counts: Object.fromEntries(counts), commands: commands.map((c) => `${c.commandName} ${String(c.command[c.commandName])}`).sort() }
    }
    const small = await request()
    t.same(small.counts, { 'count-a': { unread: 15, mentions: 1 }, 'count-b': { unread: 20, mentions: 2 }, 'count-c': { unread: 11, mentions: 1 } })
    t.same(small.commands, ['find read_channels', 'find read_markers', 'find read_mentions'], 'three finds: markers (numbered when written), counters, mention lists')
    t.same(commands.find((c) => c.command.find === 'read_mentions')?.command.filter, { userId: 'reader' }, 'the mention lists by one equality on the user (FerretDB reads a whole collection for `$in`)')
    for (const [i, c] of channels.entries()) await fill(c, i, 20, 1500)
    const grown = await request()
    t.same(grown.counts, { 'count-a': { unread: 999 + 1, mentions: 151 }, 'count-b': { unread: 999 + 1, mentions: 152 }, 'count-c': { unread: 999 + 1, mentions: 151 } }, 'counts over the cap stop at UNREAD_MAX + 1')
    t.same(grown.commands, small.commands, 'the same three reads with 1,520 messages per channel as with 20')

    // A marker written before its message was indexed carries `ref`: its entry is read by _id
    // equality (FerretDB reads the whole collection for `$in`), one lookup per such marker.
    await store.mark(coalesce([{ userId: 'reader', channelId: 'count-d', messageId: id(3, 1), position: { epoch: 'e', offset: '1' }, unread: false, at: new Date().toISOString(), applied: { epoch: 'r', offset: '3' } }]))
    await fill('count-d', 3, 0, 5)
    commands.length = 0
    const counts = await store.unread('reader', (await store.markers('reader')).filter((m) => m.channelId === 'count-d'), 999)
    t.same(Object.fromEntries(counts), { 'count-d': { unread: 3, mentions: 0 } }, 'counted from the entry read at request time')
    const lookups = commands.filter((c) => c.command.find === 'read_index')
    t.same(lookups.map((c) => c.command.filter), [{ _id: id(3, 1) }], 'one read of the entry, by _id equality')

    // The reader marks her own post read before it is indexed (read-your-writes): indexing her post
    // numbers that marker, and counting reads no entry for it.
    const own = id(4, 2)
    await store.mark(coalesce([{ userId: 'reader', channelId: 'count-e', messageId: own, position: { epoch: 'e', offset: '2' }, unread: false, at: new Date().toISOString(), applied: { epoch: 'r', offset: '4' } }]))
    await store.index([0, 1, 2, 3].map((n): IndexChange => ({ type: 'create', at: new Date().toISOString(), message: { id: id(4, n), channelId: 'count-e', senderId: n === 2 ? 'reader' : 'bob', position: { epoch: 'e', offset: String(n) }, mentions: [] } })))
    commands.length = 0
    const ownCounts = await store.unread('reader', (await store.markers('reader')).filter((m) => m.channelId === 'count-e'), 999)
    t.same(Object.fromEntries(ownCounts), { 'count-e': { unread: 1, mentions: 0 } }, 'one message after her post')
    t.same(commands.filter((c) => c.command.find === 'read_index'), [], 'her marker was numbered by the indexing of her post: no lookup')
  })

  t.test('upgrading: entries and markers from before sequence numbers are counted the old way until the next marker', async (t) => {
    const store = createMongoReadState(db, { logger: testLogger() })
    t.teardown(() => store.close())
    const ch = 'upgraded'
    const oid = (n: number) => (0x9000000 + n).toString(16).padStart(24, '0')
    const at = (n: number) => ({ epoch: 'e', offset: String(n) })
    const readAt = new Date().toISOString()
    // as the previous version left them: entries without `seq`, no counter, a marker without `seq` or `ref`
    await db.collection<{ _id: string }>('read_index').insertMany(Array.from({ length: 5 }, (_v, n) => ({ _id: oid(n), channelId: ch, senderId: 'bob', epoch: 'e', offset: n })))
    await db.collection('read_markers').insertOne({ userId: 'alice', channelId: ch, messageId: oid(1), position: { epoch: 'e', offset: 1 }, readAt })
    t.same(await store.head(ch), null, 'no head before the first numbered message: the entries are not searched')
    const counts = async () => (await store.unread('alice', await store.markers('alice'), 999)).get(ch)
    t.same(await counts(), { unread: 3, mentions: 0 }, 'the old marker: counted after its position (2-4)')
    await store.index([5, 6].map((n): IndexChange => ({ type: 'create', at: readAt, message: { id: oid(n), channelId: ch, senderId: 'bob', position: at(n), mentions: [] } })))
    t.match(await store.head(ch), { messageId: oid(6), seq: 2 }, 'numbered from the first message indexed after the upgrade')
    t.same(await counts(), { unread: 5, mentions: 0 }, 'still the old way: 2-6')
    await store.mark(coalesce([{ userId: 'alice', channelId: ch, messageId: oid(5), position: at(5), unread: false, at: readAt, applied: { epoch: 'r', offset: '1' } }]))
    t.same(await counts(), { unread: 1, mentions: 0 }, 'her next marker is numbered: 6')
  })
  t.test('upgrading: mention lists written before they carried their user are found by it', async (t) => {
    // as the previous version left them: a list keyed by "user\nchannel" only
    await db.collection<{ _id: string, [field: string]: unknown }>('read_mentions').insertOne({ _id: 'olduser\nold-ch', epoch: 'e', last: 3, offsets: [3] })
    await db.collection<{ _id: string, [field: string]: unknown }>('read_channels').insertOne({ _id: 'old-ch', epoch: 'e', seq: 5, last: 4, head: null, deleted: [] })
    const store = createMongoReadState(db, { logger: testLogger() }) // a process of the new version starts
    t.teardown(() => store.close())
    const counts = await store.unread('olduser', [{ userId: 'olduser', channelId: 'old-ch', messageId: null, position: null, readAt: new Date().toISOString() }], 999)
    t.same(counts.get('old-ch'), { unread: 5, mentions: 1 }, 'the old list counts its mention')
  })

  t.test('the index handler reads a counter back only after a gap: batches that follow one another use what it wrote', async (t) => {
    const client = new MongoClient(services.mongo, { monitorCommands: true, ignoreUndefined: true })
    t.teardown(() => client.close())
    const reads: string[] = []
    client.on('commandStarted', (e) => { if (e.commandName === 'find' && e.command.find === 'read_channels') reads.push(String(e.command.filter?._id?.$in ?? e.command.filter?._id)) })
    const store = createMongoReadState(client.db(database), { logger: testLogger() })
    const other = createMongoReadState(db, { logger: testLogger() }) // another instance, which the partition moves to for a while
    t.teardown(() => Promise.all([store.close(), other.close()]))
    const ch = 'kept-x'
    const oid = (n: number) => (0xa000000 + n).toString(16).padStart(24, '0')
    const batch = (from: number, to: number): [IndexChange[], BatchSpan[]] => [
      Array.from({ length: to - from + 1 }, (_v, i): IndexChange => ({ type: 'create', at: new Date().toISOString(), message: { id: oid(from + i), channelId: ch, senderId: 'bob', position: { epoch: 'k', offset: String(from + i) }, mentions: [] } })),
      [{ epoch: 'k', first: from, last: to + 1 }] // the batch's last event (an edit, say) is no change
    ]
    await store.index(...batch(0, 4))
    t.same(reads, [ch], 'the first batch reads its channel\'s counter')
    await store.index(...batch(6, 9))
    t.same(reads, [ch], 'the next one, starting just after it, reads none')
    t.match(await store.head(ch), { messageId: oid(9), seq: 9 }, 'and numbers on from what it wrote')
    await other.index(...batch(11, 14))
    reads.length = 0
    await store.index(...batch(16, 19))
    t.same(reads, [ch], 'after a stretch another instance took, the counter is read again')
    t.match(await store.head(ch), { messageId: oid(19), seq: 17 }, 'so that nothing it did not see is lost')
    reads.length = 0
    await store.index(...batch(16, 19))
    t.same(reads, [ch], 'a batch handled again (not following on) reads it too')
    t.match(await store.head(ch), { messageId: oid(19), seq: 17 }, 'and changes nothing')

    // the topic re-created (a new epoch): a counter kept from the old one is not the new one's
    const create = (channelId: string, epoch: string, n: number): IndexChange => ({ type: 'create', at: new Date().toISOString(), message: { id: oid(100 + n), channelId, senderId: 'bob', position: { epoch, offset: String(n) }, mentions: [] } })
    await other.index([create(ch, 'k2', 0), create(ch, 'k2', 1)], [{ epoch: 'k2', first: 0, last: 1 }]) // another instance counts it there first
    await store.index([create('kept-y', 'k2', 5)], [{ epoch: 'k2', first: 5, last: 5 }]) // then this one takes the partition
    reads.length = 0
    await store.index([create(ch, 'k2', 6)], [{ epoch: 'k2', first: 6, last: 6 }])
    t.same(reads, [ch], 'following on in the new epoch, the old epoch\'s kept counter is read again')
    t.match(await store.head(ch), { messageId: oid(106), seq: 3 }, 'and numbering goes on from what the other instance counted')
  })
  if (await requireServices(t, 'redis')) {
    const { keyPrefix } = realNames('readstate-mirror')
    t.teardown(() => cleanupReal({ keyPrefix }))
    t.test('with the counters mirrored in Redis', async (t) => {
      const redis = redisClient(t, keyPrefix)
      await redis.connect()
      const mirror = createRedisCounterMirror(redis)
      let m = 0
      t.test('the contract holds', async (t) => readStateContract(t, async () => createMongoReadState(db, { logger: testLogger(), mirror }), () => `mirrored${++m}`))

      t.test('an unread request reads the counters from the mirror; one it lacks from the store', async (t) => {
        const client = new MongoClient(services.mongo, { monitorCommands: true, ignoreUndefined: true })
        t.teardown(() => client.close())
        const finds: string[] = []
        client.on('commandStarted', (e) => { if (e.commandName === 'find') finds.push(`${String(e.command.find)} ${JSON.stringify(e.command.filter)}`) })
        const store = createMongoReadState(client.db(database), { logger: testLogger(), mirror })
        t.teardown(() => store.close())
        const oid = (n: number) => (0xb000000 + n).toString(16).padStart(24, '0')
        const create = (channelId: string, n: number): IndexChange => ({ type: 'create', at: new Date().toISOString(), message: { id: oid(n), channelId, senderId: 'bob', position: { epoch: 'm', offset: String(n) }, mentions: [] } })
        await store.index([create('mirror-a', 0), create('mirror-a', 1), create('mirror-b', 2)])
        const marker = (channelId: string) => ({ userId: 'mira', channelId, messageId: null, position: null, readAt: new Date().toISOString() })
        finds.length = 0
        const counts = await store.unread('mira', [marker('mirror-a'), marker('mirror-b')], 999)
        t.same(Object.fromEntries(counts), { 'mirror-a': { unread: 2, mentions: 0 }, 'mirror-b': { unread: 1, mentions: 0 } })
        t.same(finds.filter((f) => f.startsWith('read_channels')), [], 'no counter read from MongoDB')
        await redis.del('readstate:{mirror-b}:counter') // expired, or a Redis that restarted empty
        finds.length = 0
        const again = await store.unread('mira', [marker('mirror-a'), marker('mirror-b')], 999)
        t.same(Object.fromEntries(again), Object.fromEntries(counts), 'the same counts')
        t.same(finds.filter((f) => f.startsWith('read_channels')), ['read_channels {"_id":{"$in":["mirror-b"]}}'], 'only the counter the mirror lacks, from the store')
      })

      t.test('the mirror never goes back: a late write of an older counter is kept out; a new epoch replaces it', async (t) => {
        const counter = (epoch: string, seq: number, last: number) => ({ channelId: 'mirror-c', epoch, seq, last, head: null, deleted: [] })
        await mirror.write([counter('e', 5, 10)])
        await mirror.write([counter('e', 3, 6)])
        t.match((await mirror.read(['mirror-c'])).get('mirror-c'), { seq: 5, last: 10 }, 'the older one changed nothing')
        await mirror.write([counter('f', 1, 0)])
        t.match((await mirror.read(['mirror-c'])).get('mirror-c'), { epoch: 'f', seq: 1 }, 'the topic re-created: numbered again')
        t.same([...(await mirror.read(['mirror-none'])).keys()], [], 'a channel it lacks is absent')
      })

      t.test('a batch whose mirror write fails is retried whole, and the retry writes the mirror', async (t) => {
        const broken = createRedisCounterMirror(redisClient(t, keyPrefix, 'redis://127.0.0.1:1')) // a Redis that is not there
        const store = createMongoReadState(db, { logger: testLogger(), mirror: broken })
        t.teardown(() => store.close())
        const oid = (n: number) => (0xc000000 + n).toString(16).padStart(24, '0')
        const changes: IndexChange[] = [0, 1, 2].map((n) => ({ type: 'create', at: new Date().toISOString(), message: { id: oid(n), channelId: 'mirror-d', senderId: 'bob', position: { epoch: 'm', offset: String(n) }, mentions: [] } }))
        await t.rejects(store.index(changes, [{ epoch: 'm', first: 0, last: 2 }]), TransientError, 'the batch fails, transient: the handler retries it')
        const healthy = createMongoReadState(db, { logger: testLogger(), mirror })
        t.teardown(() => healthy.close())
        await healthy.index(changes, [{ epoch: 'm', first: 0, last: 2 }]) // the retry, wherever it runs
        t.match((await mirror.read(['mirror-d'])).get('mirror-d'), { seq: 3, last: 2 }, 'the store had the counter already; the mirror has it now')
      })
    })
  }
}
