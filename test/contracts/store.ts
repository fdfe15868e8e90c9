// The store contract, run against every implementation (embedded and MongoDB).
import type { Test } from 'tap'
import type { MessageChange, MessageStore } from '../../plugins/store/index.ts'
import { THREAD_PARTICIPANTS_MAX, type Message } from '../../schemas/message.ts'
import { message } from './cache.ts'
import { ConfigSchema } from '../../config.ts'

export type MakeStore = () => Promise<MessageStore>

let next = 0
/** Positions in one epoch, growing across the test file as the stream's offsets would. */
const at = (offset = next++) => ({ epoch: 'e', offset: String(offset) })
const create = (m: Message, position = m.position ?? at()): MessageChange => ({ type: 'create', message: { ...m, position }, position })
const edit = (m: Message, content: string, position = at()): MessageChange => ({ type: 'update', id: m.id, channelId: m.channelId, changes: { content, editedAt: '2026-01-01T00:00:00.000Z' }, position })
const del = (m: Message, position = at()): MessageChange => ({ type: 'delete', id: m.id, channelId: m.channelId, position })

export function storeContract (t: Test, makeStore: MakeStore, unique: () => string) {
  t.test('upsert is idempotent; pages are newest first with before', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const msgs = Array.from({ length: 5 }, (_v, i) => message(ch, `m${i}`, { position: { epoch: 'e', offset: String(i) } }))
    await store.apply(msgs.slice(0, 3).map((m) => create(m)))
    await store.apply(msgs.slice(2).map((m) => create(m))) // msgs[2] again: a redelivery
    const page = await store.page(ch, { limit: 3 })
    t.same(page.map((m) => m.content), ['m4', 'm3', 'm2'])
    t.same(page[0].position, { epoch: 'e', offset: '4' }, 'position kept')
    t.same((await store.page(ch, { before: msgs[2].id, limit: 10 })).map((m) => m.content), ['m1', 'm0'])
    t.same(await store.page(unique(), { limit: 10 }), [], 'unknown channel: empty')
  })

  t.test('get, edit and delete by id', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const m = message(ch, 'hello', { position: at() })
    await store.apply([create(m)])
    t.same(await store.get(m.id), m)
    await store.apply([edit(m, 'hello, edited')])
    t.match(await store.get(m.id), { content: 'hello, edited', editedAt: '2026-01-01T00:00:00.000Z' })
    await store.apply([edit(message(ch, 'never stored'), 'x')])
    t.equal(await store.get('ffffffffffffffffffffffff'), null, 'an edit of an unknown message creates nothing')
    await store.apply([del(m)])
    t.equal(await store.get(m.id), null)
    t.same(await store.page(ch, { limit: 10 }), [])
  })

  t.test('one batch in stream order: create, edits and a delete of several messages', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const [a, b, c] = ['a', 'b', 'c'].map((x) => message(ch, x, { position: at() }))
    await store.apply([create(a), create(b), edit(a, 'a2'), create(c), del(b), edit(a, 'a3')])
    t.same((await store.page(ch, { limit: 10 })).map((m) => m.content), ['c', 'a3'])
  })

  t.test('state never goes backwards: replays and older events change nothing', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const m = message(ch, 'v1', { position: at() })
    const v2 = edit(m, 'v2')
    const v3 = edit(m, 'v3')
    await store.apply([create(m), v2, v3])
    await store.apply([v2]) // the older edit, redelivered after the newer one
    t.equal((await store.get(m.id))?.content, 'v3', 'an older edit does not revert a newer one')
    const gone = del(m)
    await store.apply([gone])
    await store.apply([create(m), v2, v3]) // the whole stream again, as after a consumer restart
    t.equal(await store.get(m.id), null, 'a replayed create after the delete keeps the message deleted')
    t.same(await store.page(ch, { limit: 10 }), [])
    const never = message(ch, 'deleted before the store saw it', { position: at() })
    await store.apply([del(never)])
    await store.apply([create(never, never.position)])
    t.equal(await store.get(never.id), null, 'a delete that arrives first leaves a tombstone a late create cannot pass')
  })

  t.test('reactions are sets per emoji: repeats change nothing, an emptied emoji disappears', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const m = message(unique(), 'react to me')
    await store.apply([create(m)])
    t.same(await store.react(m.id, '👍', 'u1', true), { '👍': ['u1'] })
    t.same(await store.react(m.id, '👍', 'u1', true), { '👍': ['u1'] }, 'a redelivered add changes nothing')
    t.same(await store.react(m.id, '👍', 'u2', true), { '👍': ['u1', 'u2'] })
    t.same(await store.react(m.id, ':tada:', 'u1', true), { '👍': ['u1', 'u2'], ':tada:': ['u1'] })
    t.same(await store.react(m.id, '👍', 'u1', false), { '👍': ['u2'], ':tada:': ['u1'] })
    t.same(await store.react(m.id, '👍', 'u1', false), { '👍': ['u2'], ':tada:': ['u1'] }, 'a redelivered removal changes nothing')
    t.same(await store.react(m.id, ':tada:', 'u1', false), { '👍': ['u2'] }, 'nobody left: the emoji is gone')
    t.same((await store.get(m.id))?.reactions, { '👍': ['u2'] }, 'kept on the message')
    t.equal(await store.react('ffffffffffffffffffffffff', '👍', 'u1', true), null, 'no such message: null')
    t.equal(await store.get('ffffffffffffffffffffffff'), null, 'and nothing was created')
  })

  t.test('reactions never go backwards: one at or below the last position applied changes nothing', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const m = message(unique(), 'react to me')
    await store.apply([create(m)])
    const added = at()
    t.same(await store.react(m.id, '👍', 'u1', true, added), { '👍': ['u1'] })
    t.same(await store.react(m.id, '👍', 'u1', false, at()), {}, 'taken back by the next event')
    // the add again, from a consumer that lost the partition in a rebalance while its write was in flight
    t.same(await store.react(m.id, '👍', 'u1', true, added), {}, 'a stale write changes nothing')
    t.same((await store.get(m.id))?.reactions, {}, 'the reaction stays taken back')
    t.same(await store.react(m.id, '🎉', 'u2', true, at()), { '🎉': ['u2'] }, 'a later one applies')
    t.same(await store.react(m.id, '👍', 'u3', true, { epoch: 'another stream', offset: '0' }), { '🎉': ['u2'], '👍': ['u3'] }, 'one of another epoch (no order with this one) applies')
  })

  t.test('a redelivered create changes nothing: edits and reactions stay', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const m = message(ch, 'first text', { position: at() })
    await store.apply([create(m)])
    await store.apply([edit(m, 'edited')])
    await store.react(m.id, '👍', 'u2', true)
    await store.apply([create(m)]) // the create again, as after a crash before its offset was committed
    t.match(await store.get(m.id), { content: 'edited', editedAt: '2026-01-01T00:00:00.000Z', reactions: { '👍': ['u2'] } })
    t.equal((await store.page(ch, { limit: 10 })).length, 1, 'still one message')
  })

  // Threads: a reply is a message with `parentId`; the parent's `thread` counts replies once each.
  const replyTo = (parent: Message, content: string, senderId: string, extra: Partial<Message> = {}) =>
    message(parent.channelId, content, { senderId, senderName: senderId, parentId: parent.id, position: at(), ...extra })

  t.test('threads: each reply counts once, also when redelivered, alone or in another batch', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const parent = message(ch, 'parent', { position: at() })
    const [r1, r2, r3] = [replyTo(parent, 'r1', 'bob'), replyTo(parent, 'r2', 'carol'), replyTo(parent, 'r3', 'bob')]
    const announced = await store.apply([create(parent), create(r1), create(r2)])
    const thread = { replyCount: 2, lastReplyAt: r2.createdAt, participants: ['bob', 'carol'] }
    t.same(announced, [{ id: parent.id, channelId: ch, thread }], 'a batch with its parent and first replies: the thread as it left it')
    t.same(await store.apply([create(r1), create(r2)]), [{ id: parent.id, channelId: ch, thread }], 'redelivered: the same state again, nothing counted twice')
    await store.apply([create(r2)])
    await store.apply([create(parent), create(r1)]) // as after a restart from an older offset
    t.same((await store.get(parent.id))?.thread, thread, 'still two replies')
    await store.apply([create(r2), create(r3)]) // a batch that starts with a redelivery
    t.same((await store.get(parent.id))?.thread, { replyCount: 3, lastReplyAt: r3.createdAt, participants: ['bob', 'carol'] }, 'the new one counts, the redelivered one does not; bob is listed once')
    t.same(await store.apply([edit(parent, 'parent, edited')]), [], 'a batch without replies touches no thread')
    t.same((await store.get(parent.id))?.thread?.replyCount, 3, 'an edit of the parent keeps its thread')
  })

  t.test(`threads: at most ${THREAD_PARTICIPANTS_MAX} participants, the first to reply`, async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const parent = message(unique(), 'busy', { position: at() })
    await store.apply([create(parent)])
    const replies = Array.from({ length: THREAD_PARTICIPANTS_MAX + 3 }, (_v, i) => replyTo(parent, `r${i}`, `u${i}`))
    await store.apply(replies.slice(0, 5).map((r) => create(r)))
    await store.apply(replies.slice(5).map((r) => create(r)))
    const thread = (await store.get(parent.id))?.thread
    t.equal(thread?.replyCount, replies.length)
    t.same(thread?.participants, replies.slice(0, THREAD_PARTICIPANTS_MAX).map((r) => r.senderId))
  })

  t.test('threads: replies stay out of history unless alsoInChannel, and are listed oldest first', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const parent = message(ch, 'parent', { position: at() })
    const [r1, r2, r3] = [replyTo(parent, 'r1', 'bob'), replyTo(parent, 'r2', 'carol', { alsoInChannel: true }), replyTo(parent, 'r3', 'dave')]
    const after = message(ch, 'after', { position: at() })
    await store.apply([create(parent), create(r1), create(r2), create(r3), create(after)])
    t.same((await store.page(ch, { limit: 10 })).map((m) => m.content), ['after', 'r2', 'parent'], 'only r2, posted alsoInChannel')
    t.same((await store.page(ch, { limit: 1, before: after.id })).map((m) => m.content), ['r2'], 'pages count only what they show')
    t.same((await store.replies(parent.id, { limit: 10 })).map((m) => m.content), ['r1', 'r2', 'r3'], 'oldest first')
    t.same((await store.replies(parent.id, { limit: 1, after: r1.id })).map((m) => m.content), ['r2'], 'after and limit')
    t.same(await store.replies(after.id, { limit: 10 }), [], 'a message without replies: none')
    await store.apply([del(r3)])
    t.same((await store.replies(parent.id, { limit: 10 })).map((m) => m.content), ['r1', 'r2'], 'a deleted reply leaves the thread')
    t.same(await store.get(r1.id), r1, 'a reply is a message: get finds it, with its parentId')
  })

  t.test('threads: a deleted parent with replies stays in history as a placeholder, without text or author', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const parent = message(ch, 'secret', { position: at() })
    const lonely = message(ch, 'no replies', { position: at() })
    const r1 = replyTo(parent, 'r1', 'bob')
    await store.apply([create(parent), create(lonely), create(r1)])
    await store.apply([del(parent), del(lonely)])
    const placeholder = { id: parent.id, channelId: ch, deleted: true, thread: { replyCount: 1, lastReplyAt: r1.createdAt, participants: ['bob'] }, position: parent.position }
    t.same(await store.page(ch, { limit: 10 }), [placeholder], 'the placeholder; the message without replies is gone')
    t.equal(await store.get(parent.id), null, 'the message itself is deleted')
    t.same(await store.deletedParent(parent.id), placeholder)
    t.equal(await store.deletedParent(lonely.id), null, 'a deleted message without replies has no placeholder')
    t.equal(await store.deletedParent(r1.id), null, 'nor has a live message')
    t.same((await store.replies(parent.id, { limit: 10 })).map((m) => m.id), [r1.id], 'the thread is still readable')
    await store.apply([create(parent), create(r1)]) // the stream again
    t.same(await store.page(ch, { limit: 10 }), [placeholder], 'a replay brings back neither text nor a second count')
    t.equal(await store.react(parent.id, '👍', 'u1', true), null, 'a placeholder takes no reactions')
  })

  t.test('threads: a deleted reply is counted out once; a deleted parent whose replies are all deleted leaves history', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const parent = message(ch, 'parent', { position: at() })
    const [r1, r2] = [replyTo(parent, 'r1', 'bob'), replyTo(parent, 'r2', 'carol')]
    await store.apply([create(parent), create(r1), create(r2)])
    const goneR1 = del(r1)
    t.same(await store.apply([goneR1]), [{ id: parent.id, channelId: ch, thread: { replyCount: 1, lastReplyAt: r2.createdAt, participants: ['bob', 'carol'] } }], 'counted out, announced')
    await store.apply([goneR1]) // redelivered
    await store.apply([create(r1), goneR1]) // the stream again
    t.equal((await store.get(parent.id))?.thread?.replyCount, 1, 'once')
    const r3 = replyTo(parent, 'r3', 'dave') // its position: after the events above
    await store.apply([create(r3), del(r3)]) // posted and deleted within one batch
    t.equal((await store.get(parent.id))?.thread?.replyCount, 1, 'in and out')
    await store.apply([del(parent)])
    t.same((await store.page(ch, { limit: 10 })).map((m) => m.id), [parent.id], 'the placeholder, while a reply is left')
    await store.apply([del(r2)])
    t.same(await store.page(ch, { limit: 10 }), [], 'its last reply deleted: it leaves history')
    t.equal(await store.deletedParent(parent.id), null, 'and is no placeholder any more')
    t.same(await store.replies(parent.id, { limit: 10 }), [])
  })
  // A consumer catching up after a rebalance: a batch of thousands of events, all already stored.
  // On FerretDB (PostgreSQL) one bulk command of that many matching statements hangs the store
  // (docs/known-limits.md); the store writes it in chunks of MONGO_BULK_MAX.
  t.test('a catch-up batch of 3 x MONGO_BULK_MAX messages with an edit each, applied then replayed whole, completes once', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const count = 3 * ConfigSchema.properties.MONGO_BULK_MAX.default
    const msgs = Array.from({ length: count }, (_v, i) => message(ch, `m${i}`, { position: at() }))
    const batch = [...msgs.map((m) => create(m)), ...msgs.map((m) => edit(m, `${m.content} edited`))]
    await store.apply(batch)
    await store.apply(batch) // the replay: every create a duplicate, every edit at or below the last applied
    const page = await store.page(ch, { limit: count + 1 })
    t.equal(page.length, count, 'each message stored once')
    t.same(page.map((m) => 'content' in m && m.content), msgs.map((m) => `${m.content} edited`).reverse(), 'each edited once, newest first')
  })
}
