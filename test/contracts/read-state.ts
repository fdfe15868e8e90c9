// The read-state store contract, run against every implementation (embedded and MongoDB).
import type { Test } from 'tap'
import { coalesce, type IndexChange, type MarkerChange, type MarkerInput, type ReadStateStore } from '../../plugins/read-state/store.ts'
import { DELETED_KEPT } from '../../plugins/read-state/sequence.ts'
import type { Position } from '../../schemas/message.ts'

export type MakeReadState = () => Promise<ReadStateStore>

const at = (offset: number): Position => ({ epoch: 'e', offset: String(offset) })
const slots = new Map<string, number>()
/** Message `n` of a channel: ids differ between channels (the store's index is shared by all). */
const id = (n: number, channelId = '') => {
  if (!slots.has(channelId)) slots.set(channelId, slots.size)
  return (slots.get(channelId)! * 1_000_000 + n).toString(16).padStart(24, '0')
}
let logOffset = 0
/** A marker record as the handler reads it: each one later in the `read-markers` log than the last. */
const marker = (userId: string, channelId: string, n: number, unread = false): MarkerInput =>
  ({ userId, channelId, messageId: id(n, channelId), position: at(n), unread, at: new Date(1_700_000_000_000 + n).toISOString(), applied: at(++logOffset) })
/** Messages 0..count-1 of a channel at offsets 0..count-1, by `sender`. */
const messages = (channelId: string, count: number, sender = 'bob', mentions: (n: number) => string[] = () => []): IndexChange[] =>
  Array.from({ length: count }, (_v, n) => ({ type: 'create' as const, at: stamp, message: { id: id(n, channelId), channelId, senderId: sender, position: at(n), mentions: mentions(n) } }))
const stamp = new Date(1_700_000_000_000).toISOString()
const create = (channelId: string, n: number, senderId: string, more: { mentions?: string[], parentId?: string } = {}): IndexChange =>
  ({ type: 'create', at: stamp, message: { id: id(n, channelId), channelId, senderId, position: at(n), mentions: more.mentions ?? [], ...(more.parentId ? { parentId: more.parentId } : {}) } })
/** The deletion of message `n`, at offset `offset` of the channel's stream. */
const deletion = (channelId: string, n: number, offset: number): IndexChange => ({ type: 'delete', id: id(n, channelId), channelId, position: at(offset) })

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
    t.same((await store.mark(coalesce([marker('alice', ch, 5)]))).map((m) => m.messageId), [id(5, ch)], 'the first one moves')
    t.same(await store.mark(coalesce([marker('alice', ch, 3)])), [], 'an older one does not')
    t.same(await store.mark(coalesce([marker('alice', ch, 5)])), [], 'nor an equal one')
    t.match(await placeOf(store, 'alice', ch), { messageId: id(5, ch), position: at(5) })
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
    t.match(await placeOf(store, 'alice', ch), { position: at(6), messageId: id(6, ch) })
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
    await store.ensure([{ userId: 'alice', channelId: ch, messageId: id(5, ch), position: at(5), readAt: new Date().toISOString() }])
    await store.ensure([{ userId: 'alice', channelId: ch, messageId: id(9, ch), position: at(9), readAt: new Date().toISOString() }])
    t.match(await placeOf(store, 'alice', ch), { position: at(5), implicit: true }, 'the first default stays')
    t.same(await store.mark(coalesce([marker('alice', ch, 2)])), [], 'a forward marker behind the default does not move it')
    t.same((await store.mark(coalesce([marker('alice', ch, 2, true)]))).map((m) => m.position), [at(1)], 'mark as unread does')
    await store.ensure([{ userId: 'alice', channelId: ch, messageId: null, position: null, readAt: new Date().toISOString() }])
    const placed = await placeOf(store, 'alice', ch)
    t.match(placed, { position: at(1) }, 'a default never replaces a marker')
    t.notOk(placed?.implicit, 'the user\'s marker is not a default')
  })

  t.test('the fallback count: after the marker, not own, not deleted, not replies; mentions; each stops at max + 1', async (t) => {
    const store = await open(t)
    const ch = unique()
    await store.index(messages(ch, 10, 'bob', (n) => n % 3 === 0 ? ['alice'] : []))
    await store.index([create(ch, 10, 'alice'), create(ch, 11, 'bob', { mentions: ['alice'], parentId: id(2, ch) }), deletion(ch, 9, 12)])
    await store.index(messages(ch, 2)) // a replayed create changes nothing
    t.same(await store.count(ch, 'alice', null, 100), { unread: 9, mentions: 4 }, 'all: 0-8 (9 deleted, 10 hers, 11 a reply); mentions 0, 3, 6 and the reply (9 deleted)')
    t.same(await store.count(ch, 'alice', at(4), 100), { unread: 4, mentions: 2 }, 'after 4: 5-8; mentions 6 and the reply')
    t.same(await store.count(ch, 'alice', at(4), 2), { unread: 3, mentions: 2 }, 'max 2: stops at 3')
    t.same(await store.count(ch, 'alice', { epoch: 'other', offset: '0' }, 100), { unread: 0, mentions: 0 }, 'a marker of another epoch counts in its own')
    t.same(await store.count(ch, 'bob', null, 100), { unread: 1, mentions: 0 }, 'bob: alice\'s one message')
    t.same(await store.count(unique(), 'alice', null, 100), { unread: 0, mentions: 0 }, 'an unknown channel: nothing')
    t.same(await store.head(ch), { messageId: id(11, ch), position: at(11), seq: 11 }, 'the last message, with the channel\'s number (10 of bob\'s, alice\'s; not the reply)')
    t.equal(await store.head(unique()), null)
  })

  /** The user's counts in `ch` from the counters (store.unread), with the markers they hold. */
  const countsOf = async (store: ReadStateStore, userId: string, ch: string, max = 100) => {
    const marker = await placeOf(store, userId, ch)
    if (!marker) throw new Error(`${userId} has no marker in ${ch}`)
    return (await store.unread(userId, [marker], max)).get(ch)
  }
  /** bob's 0-9 (mentions of alice at 0, 3, 6, 9), alice's 10, bob's reply 11 mentioning alice, 9 deleted (at 12). */
  const history = async (store: ReadStateStore, ch: string) => {
    await store.index(messages(ch, 10, 'bob', (n) => n % 3 === 0 ? ['alice'] : []))
    await store.index([create(ch, 10, 'alice'), create(ch, 11, 'bob', { mentions: ['alice'], parentId: id(2, ch) }), deletion(ch, 9, 12)])
  }

  t.test('counts from the counters: own posts read the channel; deleted messages and replies do not count; mentions; mark as unread', async (t) => {
    const store = await open(t)
    const ch = unique()
    await history(store, ch)
    t.match(await placeOf(store, 'alice', ch), { messageId: id(10, ch), position: at(10), seq: 11 }, 'alice\'s own post moved her marker to it, with its number')
    t.same(await countsOf(store, 'alice', ch), { unread: 0, mentions: 1 }, 'alice: nothing after her post but the reply, which mentions her')
    t.match(await placeOf(store, 'bob', ch), { messageId: id(9, ch), seq: 10 }, 'bob\'s marker is at his last post (deleted since)')
    t.same(await countsOf(store, 'bob', ch), { unread: 1, mentions: 0 }, 'bob: alice\'s one message')
    await store.mark(coalesce([marker('carol', ch, 4)]))
    t.same(await countsOf(store, 'carol', ch), { unread: 5, mentions: 0 }, 'carol after 4: 5-8 and alice\'s 10 (9 deleted, 11 a reply)')
    t.same(await countsOf(store, 'carol', ch, 2), { unread: 3, mentions: 0 }, 'max 2: stops at 3')
    await store.mark(coalesce([marker('alice', ch, 4, true)]))
    t.same(await countsOf(store, 'alice', ch), { unread: 6, mentions: 2 }, 'alice marks 4 unread: 4-8, and her own 10 posted before that mark (documented); mentions 6 and the reply')
    await store.mark(coalesce([marker('dave', ch, 0, true)]))
    t.same(await countsOf(store, 'dave', ch), { unread: 10, mentions: 0 }, 'marked unread from the first message: every countable one but the deleted')
    const elsewhere = { userId: 'erin', channelId: ch, messageId: null, position: { epoch: 'other', offset: '3' }, readAt: stamp }
    t.same((await store.unread('erin', [elsewhere], 100)).get(ch), { unread: 0, mentions: 0 }, 'a marker of another epoch counts in its own')
    t.same((await store.unread('erin', [], 100)).size, 0, 'no markers: no counts')
  })

  t.test('replays keep the numbers: a replayed batch, a deletion replayed or repeated, an unknown one change nothing', async (t) => {
    const store = await open(t)
    const ch = unique()
    await history(store, ch)
    await store.mark(coalesce([marker('carol', ch, 4)]))
    const before = await store.head(ch)
    await history(store, ch) // the whole stream again (a reset of the group's offsets)
    await store.index([create(ch, 5, 'bob'), deletion(ch, 9, 12)])
    t.same(await store.head(ch), before, 'the channel\'s number did not move')
    t.same(await countsOf(store, 'carol', ch), { unread: 5, mentions: 0 }, 'carol\'s count is unchanged')
    await store.index([deletion(ch, 9, 13), { type: 'delete', id: 'ffffffffffffffffffffffff', channelId: ch, position: at(14) }])
    t.same(await countsOf(store, 'carol', ch), { unread: 5, mentions: 0 }, 'a second deletion of 9, and one of an unknown message: subtracted once, nothing')
    await store.index([deletion(ch, 6, 15)])
    t.same(await countsOf(store, 'carol', ch), { unread: 4, mentions: 0 }, 'a new deletion after the marker: one less')
    t.same(await countsOf(store, 'alice', ch), { unread: 0, mentions: 1 }, 'before alice\'s marker: nothing changes for her')
    await store.index([create(ch, 16, 'bob'), create(ch, 17, 'erin', { parentId: id(16, ch) }), create(ch, 18, 'bob')])
    t.match(await store.head(ch), { messageId: id(18, ch), seq: 13 }, 'numbering goes on after the replays: 16 and 18 (17 a reply)')
    t.same(await countsOf(store, 'carol', ch), { unread: 6, mentions: 0 })
    await store.index([{ type: 'create', at: stamp, message: { id: id(100, ch), channelId: ch, senderId: 'bob', position: { epoch: 'f', offset: '0' }, mentions: [] } }])
    t.match(await store.head(ch), { messageId: id(100, ch), seq: 1 }, 'a new epoch numbers the channel from 1 again')
  })

  t.test('the counter keeps the newest DELETED_KEPT deletions; defaults know their number; a marker on a message not indexed yet is counted the old way', async (t) => {
    const store = await open(t)
    const ch = unique()
    const total = DELETED_KEPT + 20
    await store.index(messages(ch, total))
    await store.mark(coalesce([marker('carol', ch, 9), marker('dave', ch, total - 31)]))
    // 120 deletions in one batch: on FerretDB 1.x one bulk write of them hung the store for good (BULK_CHUNK)
    await store.index(Array.from({ length: total }, (_v, n) => deletion(ch, n, total + n)))
    t.same(await countsOf(store, 'dave', ch), { unread: 0, mentions: 0 }, 'every deletion after dave\'s marker is kept: nothing left')
    t.same(await countsOf(store, 'carol', ch), { unread: total - 10 - DELETED_KEPT, mentions: 0 }, 'carol\'s marker is behind the kept ones: the older deletions still count (the documented bound)')
    const other = unique()
    await store.index([{ type: 'access', channelId: other, members: ['frank'], position: at(0), at: stamp }, create(other, 1, 'bob'), create(other, 2, 'bob', { mentions: ['gus'] })])
    t.match(await placeOf(store, 'frank', other), { position: at(0), seq: 0, implicit: true }, 'a member: read up to the access mark')
    t.match(await placeOf(store, 'gus', other), { position: at(1), messageId: null, seq: 1 }, 'a first mention: read up to just before it')
    t.same(await countsOf(store, 'frank', other), { unread: 2, mentions: 0 })
    t.same(await countsOf(store, 'gus', other), { unread: 1, mentions: 1 })
    const lagging = { userId: 'hal', channelId: other, messageId: id(999, other), position: at(1), readAt: stamp, ref: { messageId: id(999, other), before: false } }
    t.same((await store.unread('hal', [lagging], 100)).get(other), { unread: 1, mentions: 0 }, 'its message not indexed yet: counted after its position (the fallback)')
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
