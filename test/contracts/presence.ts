// The presence contract, run against every implementation (embedded and Redis). The clock is
// injected, so expiry is tested without waiting.
import type { Test } from 'tap'
import type { PresenceStore } from '../../plugins/presence/index.ts'

export type MakePresence = (opts: { ttlSeconds: number, now: () => number }) => Promise<PresenceStore>

export function presenceContract (t: Test, make: MakePresence, unique: () => string) {
  const setup = async () => {
    const clock = { now: 1_000_000 }
    const store = await make({ ttlSeconds: 300, now: () => clock.now })
    return { clock, store, channel: unique() }
  }

  t.test('the first connection of a user joins, the last one leaves', async (t) => {
    const { store, channel } = await setup()
    t.equal(await store.join({ channel, userId: 'alice', connectionId: 'c1' }, 'Alice'), true, 'first connection: a join')
    t.equal(await store.join({ channel, userId: 'alice', connectionId: 'c2' }, 'Alice'), false, 'second connection: already present')
    t.equal(await store.join({ channel, userId: 'bob', connectionId: 'c3' }), true)
    t.same(await store.list(channel), [{ userId: 'alice', name: 'Alice' }, { userId: 'bob' }])
    t.equal(await store.leave({ channel, userId: 'alice', connectionId: 'c1' }), false, 'c2 is still there')
    t.same((await store.list(channel)).map((u) => u.userId), ['alice', 'bob'])
    t.equal(await store.leave({ channel, userId: 'alice', connectionId: 'c2' }), true, 'the last one: a leave')
    t.equal(await store.leave({ channel, userId: 'alice', connectionId: 'c2' }), false, 'leaving twice is not a second leave')
    t.same(await store.list(channel), [{ userId: 'bob' }])
    t.same(await store.list(unique()), [], 'a channel nobody joined')
  })

  t.test('entries expire after the TTL unless refreshed; an expired connection stays gone', async (t) => {
    const { clock, store, channel } = await setup()
    await store.join({ channel, userId: 'alice', connectionId: 'c1' })
    await store.join({ channel, userId: 'bob', connectionId: 'c2' })
    clock.now += 200_000
    await store.refresh([{ channel, userId: 'alice', connectionId: 'c1' }])
    clock.now += 200_000 // bob's entry is 400 s old, alice's was refreshed 200 s ago
    t.same(await store.list(channel), [{ userId: 'alice' }])
    await store.refresh([{ channel, userId: 'bob', connectionId: 'c2' }])
    t.same(await store.list(channel), [{ userId: 'alice' }], 'a refresh does not bring an expired connection back')
    t.equal(await store.join({ channel, userId: 'bob', connectionId: 'c3' }), true, 'bob coming back is a join again')
    clock.now += 301_000
    t.same(await store.list(channel), [], 'everyone expired')
  })

  t.test('presence is per channel', async (t) => {
    const { store, channel } = await setup()
    const other = unique()
    await store.join({ channel, userId: 'alice', connectionId: 'c1' })
    t.equal(await store.join({ channel: other, userId: 'alice', connectionId: 'c1' }), true, 'joining another channel is its own join')
    t.equal(await store.leave({ channel: other, userId: 'alice', connectionId: 'c1' }), true)
    t.same(await store.list(channel), [{ userId: 'alice' }])
  })
}
