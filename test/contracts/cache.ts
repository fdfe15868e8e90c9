// The cache contract, run against every implementation (embedded and Redis).
import type { Test } from 'tap'
import { ObjectId } from 'mongodb'
import type { MessageCache } from '../../plugins/cache/index.ts'
import type { Message } from '../../schemas/message.ts'

export type MakeCache = (opts: { recent: number, ttlSeconds: number }) => Promise<MessageCache>

export function message (channelId: string, content: string, extra: Partial<Message> = {}): Message {
  return { id: new ObjectId().toHexString(), channelId, senderId: 'u1', senderName: 'User One', content, createdAt: new Date().toISOString(), ...extra }
}

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
}
