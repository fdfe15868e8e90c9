// The channel store contract, run against every implementation (embedded and MongoDB).
import type { Test } from 'tap'
import type { Channel, ChannelStore } from '../../plugins/channels/index.ts'

/** `atomic`: true, or why concurrent updates of one document are not atomic on this server (a todo, not a pass). */
export function channelStoreContract (t: Test, make: () => Promise<ChannelStore>, unique: () => string, atomic: true | string = true) {
  const channel = (overrides: Partial<Channel> = {}): Channel => ({
    id: unique(), name: 'general', private: true, ownerId: 'alice', members: ['alice'], createdAt: '2026-01-01T00:00:00.000Z', ...overrides
  })

  t.test('a created channel reads back as it was given; an unknown id is null', async (t) => {
    const store = await make()
    const c = channel({ members: ['alice', 'bob'] })
    t.equal(await store.create(c), true)
    t.same(await store.get(c.id), c)
    t.equal(await store.get(unique()), null)
  })

  t.test('create never overwrites: a second create with the same id is false and changes nothing', async (t) => {
    const store = await make()
    const c = channel()
    t.equal(await store.create(c), true)
    t.equal(await store.create({ ...c, name: 'other', private: false, members: [] }), false)
    t.same(await store.get(c.id), c)
  })

  t.test('concurrent creates of one id: exactly one wins', async (t) => {
    const store = await make()
    const id = unique()
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((owner) => store.create(channel({ id, ownerId: owner, members: [owner] }))))
    t.equal(results.filter(Boolean).length, 1)
    const stored = await store.get(id)
    t.equal(stored?.ownerId, ['a', 'b', 'c', 'd'][results.indexOf(true)], 'the winner is what is stored')
  })

  t.test('members are added and removed idempotently; unknown channels answer false', async (t) => {
    const store = await make()
    const c = channel()
    await store.create(c)
    t.equal(await store.addMember(c.id, 'bob'), true)
    t.equal(await store.addMember(c.id, 'bob'), true, 'adding twice is fine')
    t.same((await store.get(c.id))?.members, ['alice', 'bob'], 'once, in order of addition')
    t.equal(await store.removeMember(c.id, 'alice'), true)
    t.equal(await store.removeMember(c.id, 'alice'), true, 'removing twice is fine')
    t.same((await store.get(c.id))?.members, ['bob'])
    const unknown = unique()
    t.equal(await store.addMember(unknown, 'bob'), false)
    t.equal(await store.removeMember(unknown, 'bob'), false)
    t.equal(await store.get(unknown), null, 'adding to an unknown channel creates nothing')
  })

  t.test('concurrent membership changes never overwrite each other', { todo: atomic === true ? false : atomic }, async (t) => {
    const store = await make()
    const c = channel({ members: ['alice', 'gone'] })
    await store.create(c)
    const users = Array.from({ length: 10 }, (_, i) => `u${i}`)
    await Promise.all([...users.map((u) => store.addMember(c.id, u)), store.removeMember(c.id, 'gone')])
    t.same([...(await store.get(c.id))!.members].sort(), ['alice', ...users].sort())
  })

  t.test('ids are data, never operators or paths', async (t) => {
    const store = await make()
    const c = channel({ id: `$where.${unique()}` })
    t.equal(await store.create(c), true)
    t.same(await store.get(c.id), c)
    t.equal(await store.addMember(c.id, '$set'), true)
    t.same((await store.get(c.id))?.members, ['alice', '$set'])
  })

  t.test('what get returns is a copy: changing it changes nothing stored', async (t) => {
    const store = await make()
    const c = channel()
    await store.create(c)
    c.members.push('mallory');
    (await store.get(c.id))!.members.push('mallory')
    t.same((await store.get(c.id))?.members, ['alice'])
  })

  t.test('ping answers', async (t) => {
    const store = await make()
    await t.resolves(store.ping())
  })
}
