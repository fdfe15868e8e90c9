// The cache contract, run against every implementation (embedded and Redis).
import type { Test } from 'tap'
import { ObjectId } from 'mongodb'
import type { MessageCache } from '../../plugins/cache/index.ts'
import type { MessageChange } from '../../plugins/store/store.ts'
import type { Message, Position } from '../../schemas/message.ts'

export type MakeCache = (opts: { recent: number, ttlSeconds: number, tombstones?: number, parked?: number }) => Promise<MessageCache>

export function message (channelId: string, content: string, extra: Partial<Message> = {}): Message {
  return { id: new ObjectId().toHexString(), channelId, senderId: 'u1', senderName: 'User One', content, createdAt: new Date().toISOString(), ...extra }
}

/** The cache handler's changes (consumers/messages-cache.ts), at stream offsets of one epoch. */
export const at = (offset: number): Position => ({ epoch: 'e', offset: String(offset) })
export const created = (m: Message, offset: number): MessageChange => ({ type: 'create', message: { ...m, position: at(offset) }, position: at(offset) })
export const edited = (m: Message, content: string, offset: number): MessageChange =>
  ({ type: 'update', id: m.id, channelId: m.channelId, changes: { content, editedAt: new Date(offset * 1000).toISOString() }, position: at(offset) })
export const deleted = (m: Message, offset: number): MessageChange => ({ type: 'delete', id: m.id, channelId: m.channelId, position: at(offset) })

export function cacheContract (t: Test, makeCache: MakeCache, unique: () => string) {
  t.test('a channel never written is a miss', async (t) => {
    const cache = await makeCache({ recent: 5, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    t.equal(await cache.page(unique(), { limit: 10 }), null)
  })

  t.test('keeps the newest N, newest first, and a redelivered message is not duplicated', async (t) => {
    const cache = await makeCache({ recent: 5, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const msgs = Array.from({ length: 8 }, (_v, i) => message(ch, `m${i}`))
    for (const m of msgs) await cache.upsert(m)
    await cache.upsert(msgs[7])
    await cache.upsert(msgs[6])
    const page = await cache.page(ch, { limit: 5 })
    t.same(page?.map((m) => m.content), ['m7', 'm6', 'm5', 'm4', 'm3'])
    t.equal(await cache.page(ch, { limit: 6 }), null, 'more than it holds and not complete: a miss')
    const older = await cache.page(ch, { before: msgs[5].id, limit: 2 })
    t.same(older?.map((m) => m.content), ['m4', 'm3'], 'paging with before')
  })

  t.test('fill warms a cold channel; complete answers short pages; removed messages stay out', async (t) => {
    const cache = await makeCache({ recent: 10, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const msgs = Array.from({ length: 4 }, (_v, i) => message(ch, `m${i}`))
    await cache.upsert(msgs[3]) // the live handler got here first
    await cache.remove(ch, msgs[2].id) // and a delete raced the fill
    await cache.fill(ch, [msgs[3], msgs[2], msgs[1], msgs[0]].map((m) => ({ ...m, content: `${m.content}-stale` })), true)
    const page = await cache.page(ch, { limit: 50 })
    t.same(page?.map((m) => m.content), ['m3', 'm1-stale', 'm0-stale'], 'cached copy wins, removed stays out, complete answers')
  })

  t.test('patch changes a cached message, remove drops it', async (t) => {
    const cache = await makeCache({ recent: 10, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const [a, b] = [message(ch, 'a'), message(ch, 'b')]
    await cache.fill(ch, [], true)
    await cache.upsert(a)
    await cache.upsert(b)
    await cache.patch(ch, a.id, { content: 'a2', editedAt: new Date().toISOString() })
    await cache.remove(ch, b.id)
    const page = await cache.page(ch, { limit: 10 })
    t.same(page?.map((m) => m.content), ['a2'])
    t.ok(page?.[0].editedAt, 'edit time kept')
    await cache.patch(ch, 'ffffffffffffffffffffffff', { content: 'x' })
    t.same((await cache.page(ch, { limit: 10 }))?.length, 1, 'patching an uncached message adds nothing')
  })

  t.test('a fill read from the store before a patch or remove does not bring back old text', async (t) => {
    const cache = await makeCache({ recent: 10, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const [a, b, c] = [message(ch, 'a'), message(ch, 'b', { reactions: { '👍': ['u1'] } }), message(ch, 'c')]
    // the history route read [c, b, a] from the store; then the edit, reaction and delete landed
    await cache.patch(ch, a.id, { content: 'a2', editedAt: '2026-01-01T00:00:00.000Z' })
    await cache.patch(ch, b.id, { reactions: { '👍': ['u1', 'u2'], '🎉': ['u3'] } })
    await cache.patch(ch, b.id, { reactions: { '🎉': ['u3'] } })
    await cache.remove(ch, c.id)
    t.equal(await cache.page(ch, { limit: 10 }), null, 'still a miss: patches add no message')
    await cache.fill(ch, [c, b, a], true)
    const page = await cache.page(ch, { limit: 10 })
    t.same(page?.map((m) => m.content), ['b', 'a2'], 'the edit applies, the removed message stays out')
    t.same(page?.[0].reactions, { '🎉': ['u3'] }, 'the latest reactions win')
    t.equal(page?.[1].editedAt, '2026-01-01T00:00:00.000Z')
  })

  t.test('a redelivered create changes nothing; changes parked for an uncached message apply on insert', async (t) => {
    const cache = await makeCache({ recent: 10, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    await cache.fill(ch, [], true)
    const m = message(ch, 'first text')
    await cache.upsert(m)
    await cache.patch(ch, m.id, { content: 'edited', reactions: { '👍': ['u2'] } })
    await cache.upsert(m) // the create again
    t.match((await cache.page(ch, { limit: 10 }))?.[0], { content: 'edited', reactions: { '👍': ['u2'] } }, 'the edit and the reaction stay')
    const late = message(ch, 'late')
    await cache.patch(ch, late.id, { reactions: { '🎉': ['u3'] } }) // the reaction handler ran ahead of the cache handler
    await cache.upsert(late)
    t.match((await cache.page(ch, { limit: 10 }))?.[0], { content: 'late', reactions: { '🎉': ['u3'] } }, 'the parked reaction is applied')
  })

  t.test('a parked edit is cleared once applied: a later fill never re-applies it over fresher text (history served v2 while the store held v3)', async (t) => {
    const cache = await makeCache({ recent: 3, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const [x, a, b, c, d] = ['x', 'a', 'b', 'c', 'd'].map((content) => message(ch, content))
    await cache.apply([created(x, 1), created(a, 2), created(b, 3), created(c, 4)]) // x is trimmed (3 kept)
    await cache.apply([edited(x, 'v2 SECRET', 5)]) // x is not cached: its edit is parked
    await cache.apply([deleted(c, 6)])
    const storePage = (content: string) => [b, a, { ...x, content }] // the store's newest three
    t.equal(await cache.page(ch, { limit: 3 }), null, 'two cached: the history route misses')
    await cache.fill(ch, storePage('v2 SECRET'), false)
    await cache.apply([edited(x, 'v3', 7)]) // x is cached: edited in place
    await cache.apply([created(d, 8)]) // x is trimmed again
    await cache.apply([deleted(d, 9)])
    t.equal(await cache.page(ch, { limit: 3 }), null)
    await cache.fill(ch, storePage('v3'), false) // the store holds v3
    t.same((await cache.page(ch, { limit: 3 }))?.map((m) => m.content), ['b', 'a', 'v3'], 'the store\'s v3, not the parked v2')
  })

  t.test('edits apply in stream order: a redelivered older edit never undoes a newer one, cached or parked', async (t) => {
    const cache = await makeCache({ recent: 10, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const [m, n] = [message(ch, 'm1'), message(ch, 'n1')]
    await cache.fill(ch, [m], true)
    await cache.apply([edited(m, 'm3', 3), edited(n, 'n3', 4)]) // n is not cached: parked
    await cache.apply([edited(m, 'm2', 2), edited(n, 'n2', 1)]) // redelivered, older
    await cache.fill(ch, [n, m], true) // n as a store read from before its edits
    t.same((await cache.page(ch, { limit: 10 }))?.map((x) => x.content), ['n3', 'm3'])
  })

  t.test('a batch creates, edits and deletes in order, also the same message twice', async (t) => {
    const cache = await makeCache({ recent: 10, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const [m, n, o] = [message(ch, 'm1'), message(ch, 'n1'), message(ch, 'o1')]
    await cache.apply([created(m, 1), created(n, 2), edited(m, 'm2', 3), edited(m, 'm3', 4), created(o, 5), deleted(n, 6), edited(o, 'o2', 7)])
    const page = await cache.page(ch, { limit: 2 })
    t.same(page?.map((x) => x.content), ['o2', 'm3'])
    t.same(page?.[1].position, at(1), 'a created message carries its position')
    await cache.apply([created(n, 2), edited(n, 'n2', 8)]) // redelivered create of a deleted message, a late edit
    t.same((await cache.page(ch, { limit: 2 }))?.map((x) => x.content), ['o2', 'm3'], 'a deleted message stays out')
  })

  t.test('a fill from a store ahead of the cache handler leaves no hole: a hit never skips a message', async (t) => {
    const cache = await makeCache({ recent: 20, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const msgs = Array.from({ length: 10 }, (_v, i) => message(ch, `m${i + 1}`))
    /** Every page the cache answers (any `before`, limits 1-5) is exactly the channel's messages there. */
    const noHoles = async (when: string) => {
      let hits = 0
      for (const before of [undefined, ...msgs.map((m) => m.id)]) {
        for (let limit = 1; limit <= 5; limit++) {
          const page = await cache.page(ch, { before, limit })
          if (page === null) continue
          hits++
          const below = msgs.filter((m) => before === undefined || m.id < before).reverse().slice(0, limit)
          t.same(page.map((m) => m.content), below.map((m) => m.content), `${when}: before ${before === undefined ? 'none' : msgs.findIndex((m) => m.id === before) + 1}, limit ${limit}`)
        }
      }
      return hits
    }
    await cache.apply(msgs.slice(0, 3).map((m, i) => created(m, i + 1))) // the cache handler is at m3
    t.equal(await cache.page(ch, { limit: 5 }), null, 'three cached: the newest page of five misses')
    await cache.fill(ch, msgs.slice(5).reverse(), false) // from the store, which is at m10 already
    t.same((await cache.page(ch, { limit: 5 }))?.map((m) => m.content), ['m10', 'm9', 'm8', 'm7', 'm6'], 'the filled page is a hit')
    t.equal(await cache.page(ch, { before: msgs[5].id, limit: 3 }), null, 'paging back past m6 misses: m5 and m4 are not cached')
    await noHoles('after the fill')
    await cache.apply([created(msgs[3], 4)]) // the handler catches up, one message at a time
    await noHoles('after m4')
    await cache.apply([created(msgs[4], 5)])
    await noHoles('after m5')
    await cache.apply(msgs.slice(5).map((m, i) => created(m, i + 6)))
    t.ok(await noHoles('caught up') > 0, 'and the cache still answers')
    // A fill read while the channel had three messages (complete), landing after the handler moved on.
    const other = unique()
    const more = Array.from({ length: 6 }, (_v, i) => message(other, `n${i + 1}`))
    await cache.fill(other, more.slice(0, 3).reverse(), true)
    await cache.fill(other, more.slice(4).reverse(), false) // n6, n5: the store at n6, the handler at n3
    const short = await cache.page(other, { before: more[4].id, limit: 3 })
    t.ok(short === null || short.map((m) => m.content).join() === 'n4,n3,n2', `no hit without n4 (got ${short?.map((m) => m.content).join()})`)
  })

  t.test('tombstones and parked patches are bounded per channel, oldest (lowest id) first', async (t) => {
    const cache = await makeCache({ recent: 10, ttlSeconds: 60, tombstones: 3, parked: 2 })
    t.teardown(() => cache.close())
    const ch = unique()
    const gone = Array.from({ length: 6 }, (_v, i) => message(ch, `gone${i}`))
    await cache.apply(gone.map((m, i) => deleted(m, i + 1)))
    const kept = Array.from({ length: 3 }, (_v, i) => message(ch, `kept${i}`))
    await cache.apply(kept.map((m, i) => edited(m, `edited${i}`, i + 10))) // not cached: parked
    t.same(cache.stats, { tombstonesTrimmed: 3, parkedTrimmed: 1 }, 'three tombstones and one parked patch over the bounds')
    // A fill from a store read that predates all of it: only what the bounds kept still applies.
    await cache.fill(ch, [...kept, ...gone].reverse(), true)
    t.same((await cache.page(ch, { limit: 10 }))?.map((m) => m.content), ['edited2', 'edited1', 'kept0', 'gone2', 'gone1', 'gone0'],
      'the newest three tombstones and the newest two parked edits hold')
  })

  t.test('threads: a reply is cached only when posted alsoInChannel; thread patches reach the parent, cached or parked', async (t) => {
    const cache = await makeCache({ recent: 10, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const parent = message(ch, 'parent')
    const reply = message(ch, 'reply', { parentId: parent.id })
    const also = message(ch, 'also', { parentId: parent.id, alsoInChannel: true })
    await cache.fill(ch, [], true)
    await cache.apply([created(parent, 1), created(reply, 2)])
    await cache.upsert({ ...reply, position: at(2) })
    await cache.apply([created(also, 3)])
    t.same((await cache.page(ch, { limit: 10 }))?.map((m) => m.content), ['also', 'parent'], 'the reply only in its thread is not cached')
    const thread = { replyCount: 2, lastReplyAt: also.createdAt, participants: ['u1'] }
    await cache.patch(ch, parent.id, { thread })
    t.same((await cache.page(ch, { limit: 10 }))?.[1].thread, thread, 'the cached parent has its thread')
    const later = message(ch, 'later')
    await cache.patch(ch, later.id, { thread }) // the store handler ran ahead of the cache handler
    await cache.apply([created(later, 4)])
    t.same((await cache.page(ch, { limit: 1 }))?.[0], { ...later, position: at(4), thread }, 'a parked thread applies when its parent comes')
  })

  t.test('threads: deleting a cached parent with replies leaves its placeholder, which takes thread patches only', async (t) => {
    const cache = await makeCache({ recent: 10, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const [parent, lonely] = [message(ch, 'secret'), message(ch, 'lonely')]
    const thread = { replyCount: 1, lastReplyAt: parent.createdAt, participants: ['u2'] }
    await cache.fill(ch, [], true)
    await cache.apply([created(parent, 1), created(lonely, 2)])
    await cache.patch(ch, parent.id, { thread })
    await cache.apply([edited(parent, 'secret, edited', 3), deleted(parent, 4), deleted(lonely, 5)])
    const placeholder = { id: parent.id, channelId: ch, deleted: true, thread, position: at(1) }
    t.same(await cache.page(ch, { limit: 10 }), [placeholder], 'the placeholder: no text, no author; the message without replies is gone')
    await cache.apply([created(parent, 1), edited(parent, 'secret, edited', 3)]) // redelivered
    await cache.patch(ch, parent.id, { content: 'leak', reactions: { '👍': ['u3'] } })
    t.same(await cache.page(ch, { limit: 10 }), [placeholder], 'neither a redelivery nor a patch brings text back')
    const more = { ...thread, replyCount: 2 }
    await cache.patch(ch, parent.id, { thread: more })
    t.same(await cache.page(ch, { limit: 10 }), [{ ...placeholder, thread: more }], 'a reply still in flight is counted')
    await cache.remove(ch, parent.id)
    t.same(await cache.page(ch, { limit: 10 }), [{ ...placeholder, thread: more }], 'removed again: still the placeholder')
    await cache.patch(ch, parent.id, { thread: { ...more, replyCount: 0 } })
    t.same(await cache.page(ch, { limit: 10 }), [], 'its last reply deleted: the placeholder leaves')
    await cache.apply([created(parent, 1)])
    t.same(await cache.page(ch, { limit: 10 }), [], 'and a redelivered create does not bring the message back')
  })

  t.test('threads: a fill brings the store\'s placeholder of a parent deleted while it was not cached', async (t) => {
    const cache = await makeCache({ recent: 10, ttlSeconds: 60 })
    t.teardown(() => cache.close())
    const ch = unique()
    const [older, parent] = [message(ch, 'older'), message(ch, 'parent')]
    await cache.apply([deleted(parent, 3)]) // the cache handler deleted it before any read cached it
    const placeholder = { id: parent.id, channelId: ch, deleted: true as const, thread: { replyCount: 1, lastReplyAt: parent.createdAt, participants: ['u2'] } }
    await cache.fill(ch, [placeholder, older], true)
    t.same(await cache.page(ch, { limit: 10 }), [placeholder, older], 'as the store\'s page says')
  })
}
