// The fold that numbers a channel's messages (plugins/read-state/sequence.ts): a function of the
// stored state and the batch, so a batch retried after a crash between its writes, or cut
// differently by another consumer, comes to the same numbers.
import t from 'tap'
import { fold, mentionKey, type ChannelCounter, type MentionList } from '../../plugins/read-state/sequence.ts'
import type { IndexChange } from '../../plugins/read-state/store.ts'

const at = (offset: number) => ({ epoch: 'e', offset: String(offset) })
const stamp = new Date(1_700_000_000_000).toISOString()
const id = (n: number) => n.toString(16).padStart(24, '0')
const create = (n: number, senderId: string, more: { mentions?: string[], parentId?: string } = {}): IndexChange =>
  ({ type: 'create', at: stamp, message: { id: id(n), channelId: 'general', senderId, position: at(n), mentions: more.mentions ?? [], ...(more.parentId ? { parentId: more.parentId } : {}) } })
const batch: IndexChange[] = [create(1, 'bob'), create(2, 'bob', { mentions: ['alice'] }), create(3, 'alice', { parentId: id(1) }), create(4, 'carol'), { type: 'delete', id: id(2), channelId: 'general', position: at(5) }, create(6, 'bob', { mentions: ['alice'] })]
const empty = () => ({ counters: new Map<string, ChannelCounter>(), known: new Map(), mentions: new Map<string, MentionList>(), keep: 10 })

t.test('numbers the countable messages; a reply takes the number before it; the counter keeps deletions', async (t) => {
  const out = fold(batch, empty())
  t.same(out.entries.map((e) => [e.offset, e.seq]), [[1, 1], [2, 2], [3, 2], [4, 3], [6, 4]])
  t.same(out.counters, [{ channelId: 'general', epoch: 'e', seq: 4, last: 6, head: { messageId: id(6), offset: 6 }, deleted: [2] }])
  t.same(out.mentions, [{ userId: 'alice', channelId: 'general', epoch: 'e', last: 6, offsets: [6] }], 'the deleted mention left the list')
  t.same(out.forwards.map((m) => [m.userId, m.position?.offset, m.seq]).sort(), [['bob', '6', 4], ['carol', '4', 3]], 'senders\' markers move to their last post; not for a reply')
  t.same(out.defaults.map((m) => [m.userId, m.position?.offset, m.seq]).sort(), [['alice', '1', 1]], 'alice: just before her first mention (the first default in the batch; her reply places none after it)')
})

t.test('a crash after the index, mention and marker writes but before the counters: the replay comes to the same numbers and writes no list twice', async (t) => {
  const first = fold(batch, empty())
  const lists = new Map(first.mentions.map((l) => [mentionKey(l.userId, l.channelId), l]))
  const again = fold(batch, { ...empty(), mentions: lists })
  t.same(again.entries, first.entries, 'the same numbers')
  t.same(again.counters, first.counters, 'the same counter')
  t.same(again.mentions, [], 'the mention list took the batch already: nothing to write')
  t.same(again.forwards, first.forwards, 'the same forward moves (forward only: a no-op where done)')
})

t.test('after the counter took the batch, a replay changes nothing; a batch cut differently comes to the same numbers', async (t) => {
  const first = fold(batch, empty())
  const counters = new Map(first.counters.map((c) => [c.channelId, c]))
  const replay = fold(batch, { ...empty(), counters })
  t.same([replay.entries, replay.counters, replay.mentions, replay.forwards, replay.defaults, replay.deletions], [[], [], [], [], [], []])
  const head = fold(batch.slice(0, 3), empty())
  // the store reads the entries of the messages a batch deletes
  const rest = fold(batch, { ...empty(), counters: new Map(head.counters.map((c) => [c.channelId, c])), known: new Map(head.entries.map((e) => [e.id, e])), mentions: new Map(head.mentions.map((l) => [mentionKey(l.userId, l.channelId), l])) })
  t.same([...head.entries, ...rest.entries], first.entries, 'three, then all six (the first three replayed): the same numbers')
  t.same(rest.counters, first.counters)
})
