// The read-state store contract, run against every implementation (embedded and MongoDB).
import type { Test } from 'tap'
import { coalesce, type MarkerChange, type MarkerInput, type ReadStateStore } from '../../plugins/read-state/store.ts'
import type { Position } from '../../schemas/message.ts'

export type MakeReadState = () => Promise<ReadStateStore>

const at = (offset: number): Position => ({ epoch: 'e', offset: String(offset) })
const id = (n: number) => n.toString(16).padStart(24, '0')
let logOffset = 0
/** A marker record as the handler reads it: each one later in the `read-markers` log than the last. */
const marker = (userId: string, channelId: string, n: number, unread = false): MarkerInput =>
  ({ userId, channelId, messageId: id(n), position: at(n), unread, at: new Date(1_700_000_000_000 + n).toISOString(), applied: at(++logOffset) })
/** Messages 0..count-1 of a channel at offsets 0..count-1, by `sender`. */
const messages = (channelId: string, count: number, sender = 'bob', mentions: (n: number) => string[] = () => []) =>
  Array.from({ length: count }, (_v, n) => ({ type: 'create' as const, message: { id: id(n), channelId, senderId: sender, position: at(n), mentions: mentions(n) } }))

export function readStateContract (t: Test, make: MakeReadState, unique: () => string) {
  const open = async (t: Test) => {
    const store = await make()
    t.teardown(() => store.close())
    return store
  }
  const placeOf = async (store: ReadStateStore, userId: string, channelId: string) => (await store.markers(userId)).find((m) => m.channelId === channelId)

  t.test('a marker only moves forward; an older or equal one changes nothing', async (t) => {
    const store = await open(t)
    const ch = unique()
    t.same((await store.mark(coalesce([marker('alice', ch, 5)]))).map((m) => m.messageId), [id(5)], 'the first one moves')
    t.same(await store.mark(coalesce([marker('alice', ch, 3)])), [], 'an older one does not')
    t.same(await store.mark(coalesce([marker('alice', ch, 5)])), [], 'nor an equal one')
    t.match(await placeOf(store, 'alice', ch), { messageId: id(5), position: at(5) })
    t.same((await store.mark(coalesce([marker('alice', ch, 7)]))).map((m) => m.position), [at(7)], 'a later one moves')
  })

  t.test('mark as unread moves it back to just before the message; a replay of an older forward cannot undo it, nor undo a later forward', async (t) => {
    const store = await open(t)
    const ch = unique()
    const forward = marker('alice', ch, 8)
    await store.mark(coalesce([forward]))
    const back = marker('alice', ch, 4, true)
    t.same((await store.mark(coalesce([back]))).map((m) => m.position), [at(3)], 'moved back')
    t.same(await store.mark(coalesce([forward])), [], 'the forward marker replayed (it is behind in the log): nothing')
    t.match(await placeOf(store, 'alice', ch), { position: at(3), messageId: null })
    const later = marker('alice', ch, 6)
    await store.mark(coalesce([later]))
    t.same(await store.mark(coalesce([back])), [], 'the unread replayed: nothing')
    t.match(await placeOf(store, 'alice', ch), { position: at(6), messageId: id(6) })
  })

  t.test('coalesced: one change per user and channel per batch, in log order', async (t) => {
    const store = await open(t)
    const [a, b] = [unique(), unique()]
    const batch = [marker('alice', a, 2), marker('alice', a, 9), marker('alice', a, 4), marker('bob', a, 1), marker('alice', b, 3), marker('alice', b, 3, true), marker('alice', b, 1)]
    const changes = coalesce(batch)
    t.equal(changes.length, 3, 'three users × channels: three writes')
    t.match(changes.find((c) => c.userId === 'alice' && c.channelId === a), { mode: 'forward', position: at(9), applied: batch[2].applied }, 'the furthest, with the last record\'s log position')
    t.match(changes.find((c) => c.channelId === b), { mode: 'set', position: at(2), applied: batch[6].applied }, 'an unread resets: the later forward (1) is not further than just before 3')
    await store.mark(changes)
    t.match(await placeOf(store, 'alice', a), { position: at(9) })
    t.match(await placeOf(store, 'alice', b), { position: at(2) })
    const again = await store.mark(changes)
    t.same(again.map((m) => m.position).sort((x, y) => Number(x?.offset) - Number(y?.offset)), [at(1), at(2), at(9)], 'the batch retried: reported again (announced at least once)…')
    t.match(await placeOf(store, 'alice', a), { position: at(9) }, '…and nothing changed')
    t.match(await placeOf(store, 'alice', b), { position: at(2) })
    await store.mark(coalesce([marker('alice', a, 10)]))
    t.same((await store.mark(changes)).map((m) => `${m.userId}/${m.channelId === a ? 'a' : 'b'}`).sort(), ['alice/b', 'bob/a'], 'replayed after a later record: only the markers that took nothing since are reported')
    t.match(await placeOf(store, 'alice', a), { position: at(10) }, 'a replay never moves a marker back')
  })

  t.test('a default marker is stored only where the user has none, and any marker of the user moves it', async (t) => {
    const store = await open(t)
    const ch = unique()
    await store.ensure([{ userId: 'alice', channelId: ch, messageId: id(5), position: at(5), readAt: new Date().toISOString() }])
    await store.ensure([{ userId: 'alice', channelId: ch, messageId: id(9), position: at(9), readAt: new Date().toISOString() }])
    t.match(await placeOf(store, 'alice', ch), { position: at(5), implicit: true }, 'the first default stays')
    t.same(await store.mark(coalesce([marker('alice', ch, 2)])), [], 'a forward marker behind the default does not move it')
    t.same((await store.mark(coalesce([marker('alice', ch, 2, true)]))).map((m) => m.position), [at(1)], 'mark as unread does')
    await store.ensure([{ userId: 'alice', channelId: ch, messageId: null, position: null, readAt: new Date().toISOString() }])
    const placed = await placeOf(store, 'alice', ch)
    t.match(placed, { position: at(1) }, 'a default never replaces a marker')
    t.notOk(placed?.implicit, 'the user\'s marker is not a default')
  })

  t.test('counts: after the marker, not own, not deleted, not replies; mentions; each stops at max + 1', async (t) => {
    const store = await open(t)
    const ch = unique()
    await store.index(messages(ch, 10, 'bob', (n) => n % 3 === 0 ? ['alice'] : []))
    await store.index([
      { type: 'create', message: { id: id(10), channelId: ch, senderId: 'alice', position: at(10), mentions: [] } },
      { type: 'create', message: { id: id(11), channelId: ch, senderId: 'bob', position: at(11), mentions: ['alice'], parentId: id(2) } },
      { type: 'delete', id: id(9) }
    ])
    await store.index(messages(ch, 2)) // a replayed create changes nothing
    t.same(await store.count(ch, 'alice', null, 100), { unread: 9, mentions: 4 }, 'all: 0-8 (9 deleted, 10 hers, 11 a reply); mentions 0, 3, 6 and the reply (9 deleted)')
    t.same(await store.count(ch, 'alice', at(4), 100), { unread: 4, mentions: 2 }, 'after 4: 5-8; mentions 6 and the reply')
    t.same(await store.count(ch, 'alice', at(4), 2), { unread: 3, mentions: 2 }, 'max 2: stops at 3')
    t.same(await store.count(ch, 'alice', { epoch: 'other', offset: '0' }, 100), { unread: 0, mentions: 0 }, 'a marker of another epoch counts in its own')
    t.same(await store.count(ch, 'bob', null, 100), { unread: 1, mentions: 0 }, 'bob: alice\'s one message')
    t.same(await store.count(unique(), 'alice', null, 100), { unread: 0, mentions: 0 }, 'an unknown channel: nothing')
    t.same(await store.head(ch), { messageId: id(11), position: at(11) })
    t.equal(await store.head(unique()), null)
  })

  t.test('receipts: readers, readBy at or after a position, the opt-out', async (t) => {
    const store = await open(t)
    const ch = unique()
    await store.mark(coalesce([marker('alice', ch, 5), marker('carol', ch, 2), marker('dave', ch, 7)]))
    t.equal(await store.readers(ch, 10), 3)
    t.equal(await store.readers(ch, 1), 2, 'stops at max + 1')
    t.same((await store.readBy(ch, at(5), 10)).map((m) => m.userId).sort(), ['alice', 'dave'])
    t.match((await store.readBy(ch, at(5), 10)).find((m) => m.userId === 'alice'), { readAt: new Date(1_700_000_000_005).toISOString() })
    await store.setReceipts('dave', false)
    t.same([...await store.receiptsOff(['alice', 'dave'])], ['dave'])
    t.same((await store.readBy(ch, at(5), 10)).map((m) => m.userId), ['alice'], 'dave turned them off')
    await store.setReceipts('dave', true)
    t.same([...await store.receiptsOff(['dave'])], [], 'and on again')
  })
}

export type { MarkerChange }
