// The pin store contract, run against every implementation (embedded and MongoDB).
import type { Test } from 'tap'
import type { PinStore, PinUpdate } from '../../plugins/pins/index.ts'

export function pinStoreContract (t: Test, make: () => Promise<PinStore>, unique: () => string) {
  const at = (s: number) => `2026-12-07T09:00:${String(s).padStart(2, '0')}.000Z`
  const pin = (channelId: string, messageId: string, version: number, userId = 'alice'): PinUpdate => ({ channelId, messageId, pinned: true, userId, at: at(version % 60), version })
  const unpin = (channelId: string, messageId: string, version: number): PinUpdate => ({ channelId, messageId, pinned: false, at: at(version % 60), version })
  const ids = async (store: PinStore, channelId: string) => (await store.list(channelId)).map((p) => p.messageId)

  t.test('a channel never pinned in has no pins', async (t) => {
    const store = await make()
    t.same(await store.list(unique()), [])
  })

  t.test('pins are listed newest pin (highest version) first, with who pinned them and when', async (t) => {
    const store = await make()
    const channel = unique()
    t.equal(await store.apply(pin(channel, 'm1', 10, 'alice')), true)
    t.equal(await store.apply(pin(channel, 'm2', 30, 'bob')), true)
    t.equal(await store.apply(pin(channel, 'm3', 20, 'carol')), true)
    t.same(await store.list(channel), [
      { channelId: channel, messageId: 'm2', pinnedBy: 'bob', pinnedAt: at(30), version: 30 },
      { channelId: channel, messageId: 'm3', pinnedBy: 'carol', pinnedAt: at(20), version: 20 },
      { channelId: channel, messageId: 'm1', pinnedBy: 'alice', pinnedAt: at(10), version: 10 }
    ])
  })

  t.test('pinning a pinned message again keeps who pinned it, when, and its place in the list', async (t) => {
    const store = await make()
    const channel = unique()
    await store.apply(pin(channel, 'm1', 10, 'alice'))
    await store.apply(pin(channel, 'm2', 20, 'bob'))
    t.equal(await store.apply(pin(channel, 'm1', 30, 'carol')), true, 'applied (its version moves)')
    t.same(await store.list(channel), [
      { channelId: channel, messageId: 'm2', pinnedBy: 'bob', pinnedAt: at(20), version: 20 },
      { channelId: channel, messageId: 'm1', pinnedBy: 'alice', pinnedAt: at(10), version: 30 }
    ])
    t.equal(await store.apply(unpin(channel, 'm1', 25)), false, 'an unpin older than the second pin changes nothing')
    t.same(await ids(store, channel), ['m2', 'm1'])
  })

  t.test('an unpin removes the pin; a later pin brings it back with its new pinner and version', async (t) => {
    const store = await make()
    const channel = unique()
    await store.apply(pin(channel, 'm1', 1))
    t.equal(await store.apply(unpin(channel, 'm1', 2)), true)
    t.same(await store.list(channel), [])
    t.equal(await store.apply(pin(channel, 'm1', 3, 'bob')), true)
    t.match(await store.list(channel), [{ messageId: 'm1', pinnedBy: 'bob', version: 3 }])
  })

  t.test('replays change nothing: the same changes again apply nothing and leave the same pins', async (t) => {
    const store = await make()
    const channel = unique()
    const changes = [pin(channel, 'm1', 1), pin(channel, 'm2', 2), unpin(channel, 'm1', 3), pin(channel, 'm3', 4, 'bob')]
    for (const change of changes) t.equal(await store.apply(change), true)
    const before = await store.list(channel)
    for (const change of changes) t.equal(await store.apply(change), false, `replay of ${change.messageId} v${change.version} applies nothing`)
    t.same(await store.list(channel), before)
    t.same(before.map((p) => p.messageId), ['m3', 'm2'])
  })

  t.test('an older change that arrives after a newer one changes nothing (order is the versions\', not arrival\'s)', async (t) => {
    const store = await make()
    const channel = unique()
    t.equal(await store.apply(unpin(channel, 'm1', 5)), true, 'an unpin of a pin never seen is remembered')
    t.equal(await store.apply(pin(channel, 'm1', 4)), false, 'the pin it came after does not bring it back')
    t.same(await ids(store, channel), [])
    t.equal(await store.apply(pin(channel, 'm2', 7, 'bob')), true)
    t.equal(await store.apply(unpin(channel, 'm2', 6)), false, 'nor does an older unpin remove a newer pin')
    t.same(await ids(store, channel), ['m2'])
  })

  t.test('channels are independent', async (t) => {
    const store = await make()
    const [a, b] = [unique(), unique()]
    await store.apply(pin(a, 'm1', 1))
    await store.apply(pin(b, 'm1', 1))
    await store.apply(unpin(a, 'm1', 2))
    t.same(await ids(store, a), [])
    t.same(await ids(store, b), ['m1'])
  })
}
