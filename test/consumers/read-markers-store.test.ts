import t from 'tap'
import type { FastifyInstance } from 'fastify'
import handler from '../../consumers/read-markers-store.ts'
import { createEmbeddedReadState } from '../../plugins/read-state/embedded.ts'
import type { MarkerChange } from '../../plugins/read-state/store.ts'
import type { BatchContext, TopicEvent } from '../../plugins/topic-handlers.ts'
import type { ReadMarkerEvent } from '../../schemas/read-state.ts'
import type { BusRecord } from '../../plugins/bus/index.ts'

const id = (n: number) => n.toString(16).padStart(24, '0')
let offset = 0
const event = (userId: string, channelId: string, n: number, unread = false): TopicEvent<ReadMarkerEvent> => ({
  event: { v: 1, type: 'read.marked', userId, at: new Date().toISOString(), data: { channelId, messageId: id(n), position: { epoch: 'e', offset: String(n) }, unread } },
  record: {} as BusRecord,
  position: { epoch: 'e', offset: String(++offset) }
})

/** The handler with an embedded store whose writes are recorded, and the receipts it offers. */
function setUp (maxReaders = 100) {
  const store = createEmbeddedReadState()
  const writes: MarkerChange[][] = []
  const mark = store.mark.bind(store)
  store.mark = async (changes) => { writes.push(changes); return await mark(changes) }
  const offered: string[] = []
  const produced: unknown[] = []
  const app = {
    config: { RECEIPTS_MAX_READERS: maxReaders },
    readState: { store, stats: { markerWrites: 0 }, receipts: { offer: (key: string, send: () => Promise<void>) => { offered.push(key); void send() }, stop () {} } },
    events: { produce: async (_topic: string, _key: string, value: unknown) => { produced.push(value) } }
  } as unknown as FastifyInstance
  const ctx = { app, log: {} } as unknown as BatchContext
  return { app, store, writes, offered, produced, run: (events: Array<TopicEvent<ReadMarkerEvent>>) => handler.handleBatch!(events, ctx) }
}

t.test('a batch is one store call with one write per user and channel; receipts for the markers that moved', async (t) => {
  const { app, writes, offered, produced, run } = setUp()
  await run([event('alice', 'a', 3), event('alice', 'a', 9), event('bob', 'a', 2), event('alice', 'a', 5), event('alice', 'b', 4), event('bob', 'a', 1)])
  t.equal(writes.length, 1, 'one call')
  t.equal(app.readState.stats.markerWrites, 3, 'three writes counted (switchboard_read_marker_writes_total), for six markers')
  t.same(writes[0].map((c) => `${c.userId}/${c.channelId}@${c.position?.offset}`).sort(), ['alice/a@9', 'alice/b@4', 'bob/a@2'], 'one write each, the furthest')
  t.same(offered.sort(), ['alice\na', 'alice\nb', 'bob\na'])
  t.match(produced.find((p) => (p as Produced).type === 'receipt.read' && (p as Produced).data.userId === 'alice' && (p as Produced).channelId === 'a'), { data: { messageId: id(9) } })
  const updates = () => produced.filter((p) => (p as Produced).type === 'read.updated') as Produced[]
  t.same(updates().map((u) => `${u.userId}/${u.data.channelId}@${u.data.position?.offset}`).sort(), ['alice/a@9', 'alice/b@4', 'bob/a@2'], 'read.updated for each marker that moved')
  offered.length = 0
  produced.length = 0
  await run([event('alice', 'a', 7), event('bob', 'a', 6, true)])
  t.same(offered, [], 'an older marker moved nothing; a mark as unread sends no receipt')
  t.equal(app.readState.stats.markerWrites, 5, 'a write asked for each, moved or not')
  t.same(updates().map((u) => `${u.userId}/${u.data.channelId}@${u.data.position?.offset}`), ['bob/a@5'], 'the mark as unread is announced: just before the message')
})

t.test('an announcement that fails retries the batch, and the retry announces the same markers', async (t) => {
  const { produced, run, app } = setUp()
  const produce = app.events.produce
  let failures = 1
  app.events.produce = (async (...args: Parameters<typeof produce>) => {
    if (failures-- > 0) throw new Error('the log is down')
    return await produce(...args)
  }) as typeof produce
  const batch = [event('alice', 'a', 3)]
  await t.rejects(run(batch), { name: 'TransientError' }, 'transient: the registry retries the batch')
  await run(batch)
  t.match(produced.filter((p) => (p as Produced).type === 'read.updated'), [{ userId: 'alice', data: { channelId: 'a', messageId: id(3) } }], 'announced by the retry')
})

t.test('no receipts above RECEIPTS_MAX_READERS, nor from a user who turned them off', async (t) => {
  const { store, offered, run } = setUp(2)
  await store.setReceipts('carol', false)
  await run([event('alice', 'small', 1), event('carol', 'small', 1)])
  t.same(offered, ['alice\nsmall'], 'carol turned them off')
  await run([event('bob', 'small', 2), event('dave', 'small', 2)])
  t.same(offered, ['alice\nsmall'], 'four readers: above the limit of 2, none')
})

type Produced = { type: string, userId: string, channelId: string, data: { userId: string, messageId: string, channelId: string, position: { offset: string } | null } }
