// The store contract, run against every implementation (embedded and MongoDB).
import type { Test } from 'tap'
import type { MessageStore } from '../../plugins/store/index.ts'
import { message } from './cache.ts'

export type MakeStore = () => Promise<MessageStore>

export function storeContract (t: Test, makeStore: MakeStore, unique: () => string) {
  t.test('upsert is idempotent; pages are newest first with before', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const msgs = Array.from({ length: 5 }, (_v, i) => message(ch, `m${i}`, { position: { epoch: 'e', offset: String(i) } }))
    for (const m of msgs) await store.upsert(m)
    await store.upsert(msgs[2])
    const page = await store.page(ch, { limit: 3 })
    t.same(page.map((m) => m.content), ['m4', 'm3', 'm2'])
    t.same(page[0].position, { epoch: 'e', offset: '4' }, 'position kept')
    t.same((await store.page(ch, { before: msgs[2].id, limit: 10 })).map((m) => m.content), ['m1', 'm0'])
    t.same(await store.page(unique(), { limit: 10 }), [], 'unknown channel: empty')
  })

  t.test('get, patch and remove by id', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const m = message(ch, 'hello')
    await store.upsert(m)
    t.same(await store.get(m.id), m)
    t.equal(await store.patch(m.id, { content: 'hello, edited', editedAt: '2026-01-01T00:00:00.000Z' }), true)
    t.match(await store.get(m.id), { content: 'hello, edited', editedAt: '2026-01-01T00:00:00.000Z' })
    t.equal(await store.patch('ffffffffffffffffffffffff', { content: 'x' }), false)
    await store.remove(m.id)
    t.equal(await store.get(m.id), null)
    t.same(await store.page(ch, { limit: 10 }), [])
  })

  t.test('reactions are sets per emoji: repeats change nothing, an emptied emoji disappears', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const m = message(unique(), 'react to me')
    await store.upsert(m)
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

  t.test('a redelivered create changes nothing: edits and reactions stay', async (t) => {
    const store = await makeStore()
    t.teardown(() => store.close())
    const ch = unique()
    const m = message(ch, 'first text')
    await store.upsert(m)
    await store.patch(m.id, { content: 'edited', editedAt: '2026-01-01T00:00:00.000Z' })
    await store.react(m.id, '👍', 'u2', true)
    await store.upsert(m) // the create again, as after a crash before its offset was committed
    t.match(await store.get(m.id), { content: 'edited', editedAt: '2026-01-01T00:00:00.000Z', reactions: { '👍': ['u2'] } })
    t.equal((await store.page(ch, { limit: 10 })).length, 1, 'still one message')
  })
}
