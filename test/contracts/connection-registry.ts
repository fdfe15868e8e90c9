// The connection registry contract (plugins/connections/registry.ts), run against every
// implementation (embedded and Redis). The clock is injected, so leases lapse without waiting.
import type { Test } from 'tap'
import type { ConnectionRegistry, RecordedConnection } from '../../plugins/connections/registry.ts'

export type MakeRegistry = (opts: { now: () => number }) => Promise<ConnectionRegistry>

const LEASE = 10_000

export function connectionRegistryContract (t: Test, make: MakeRegistry, unique: (what: string) => string) {
  const setup = async () => {
    const clock = { now: 1_800_000_000_000 }
    const registry = await make({ now: () => clock.now })
    const start = async (instanceId: string, run = 'run-1') => {
      const lease = await registry.start(instanceId, run, LEASE)
      if (!('gen' in lease)) throw new Error(`${instanceId} is held by ${lease.heldBy}`)
      return lease.gen
    }
    const conn = (instanceId: string, gen: number, userId = unique('u')): RecordedConnection =>
      ({ connectionId: unique('c'), userId, instanceId, transport: 'uws', connectedAt: new Date(clock.now++).toISOString(), gen })
    const ids = (conns: RecordedConnection[] | undefined) => (conns ?? []).map((c) => c.connectionId).sort()
    return { clock, registry, start, conn, ids }
  }

  t.test('the first connection of a user anywhere is online, the last one out offline', async (t) => {
    const { registry, start, conn } = await setup()
    const [a, b, user] = [unique('a'), unique('b'), unique('u')]
    const [genA, genB] = [await start(a), await start(b)]
    const [c1, c2] = [conn(a, genA, user), conn(b, genB, user)]
    const first = await registry.add(c1)
    t.match(first, { recorded: true, change: { userId: user, status: 'online' } })
    t.same(await registry.add(c2), { recorded: true, change: null }, 'a second connection changes nothing')
    t.same((await registry.list(user)).map((c) => c.connectionId), [c1.connectionId, c2.connectionId], 'oldest first')
    t.same(await registry.remove(a, c1.connectionId, user), { removed: true, change: null })
    const last = await registry.remove(b, c2.connectionId, user)
    t.match(last, { removed: true, change: { status: 'offline' } })
    t.ok(first.recorded && last.change && last.change.version > first.change!.version, 'the version grows')
    t.same(await registry.remove(b, c2.connectionId, user), { removed: false, change: null }, 'removing twice is not a second offline')
    const nobody = unique('nobody')
    t.same(await registry.statuses([user, nobody]), [{ userId: user, status: 'offline', version: last.change!.version }, { userId: nobody, status: 'offline', version: 0 }])
  })

  t.test('a lapsed generation is over: not renewed, nothing recorded under it, its connections claimed once', async (t) => {
    const { clock, registry, start, conn, ids } = await setup()
    const a = unique('a')
    const gen = await start(a)
    const c1 = conn(a, gen)
    await registry.add(c1)
    t.equal(await registry.claim(LEASE, a), null, 'a live generation is not claimable')
    clock.now += LEASE + 1
    t.equal(await registry.renew(a, gen, LEASE), false, 'a lapsed generation is not renewed')
    const late = conn(a, gen)
    t.same(await registry.add(late), { recorded: false, why: 'lease_lost' }, 'nothing is recorded under it')
    const claim = await registry.claim(LEASE, a)
    t.same(ids(claim?.connections), [c1.connectionId], 'its connections, frozen')
    t.equal(await registry.claim(LEASE, a), null, 'claimed once')
    t.equal(await registry.claim(LEASE), null, 'by anyone')
    t.same((await registry.statuses([late.userId]))[0].status, 'offline', 'the refused connection is nobody')
    await registry.remove(a, c1.connectionId, c1.userId, true)
    await registry.finishClaim(claim!)
    t.equal(await registry.claim(LEASE), null, 'nothing left to claim')
    t.same(await registry.connectionsOf(a), [])
  })

  t.test('after a lapse the instance starts a new generation that reapers never touch', async (t) => {
    const { clock, registry, start, conn, ids } = await setup()
    const a = unique('a')
    const old = await start(a)
    const c1 = conn(a, old)
    await registry.add(c1)
    clock.now += LEASE + 1 // an event-loop stall, a Redis failover
    const claim = await registry.claim(LEASE)
    t.same(ids(claim?.connections), [c1.connectionId], 'a reaper claims the lapsed generation')
    // While it reports, the instance learns the news, starts over and records new connections.
    const gen = await start(a)
    t.ok(gen > old, 'a new generation')
    const c2 = conn(a, gen)
    t.match(await registry.add(c2), { recorded: true })
    await registry.remove(a, c1.connectionId, c1.userId, true)
    await registry.finishClaim(claim!)
    for (let period = 0; period < 3; period++) {
      clock.now += LEASE / 2
      t.ok(await registry.renew(a, gen, LEASE), 'renewed')
      t.equal(await registry.claim(LEASE), null, 'no claim of the live generation')
    }
    t.same(ids(await registry.connectionsOf(a)), [c2.connectionId])
    t.same((await registry.statuses([c2.userId]))[0].status, 'online')
  })

  t.test('a connection a reaper reported cannot be recorded again', async (t) => {
    const { clock, registry, start, conn } = await setup()
    const a = unique('a')
    const c1 = conn(a, await start(a))
    await registry.add(c1)
    clock.now += LEASE + 1
    const claim = await registry.claim(LEASE)
    await registry.remove(a, c1.connectionId, c1.userId, true)
    await registry.finishClaim(claim!)
    // The instance's add of c1 was still in flight: it must not bring the user back online.
    t.same(await registry.add({ ...c1, gen: await start(a) }), { recorded: false, why: 'ended' })
    t.same((await registry.statuses([c1.userId]))[0].status, 'offline', 'no ghost')
    t.same(await registry.connectionsOf(a), [])
  })

  t.test('a claim is kept while extended and taken over when its reaper died', async (t) => {
    const { clock, registry, start, conn, ids } = await setup()
    const a = unique('a')
    const c1 = conn(a, await start(a))
    await registry.add(c1)
    clock.now += LEASE + 1
    const first = await registry.claim(1000)
    clock.now += 900
    t.ok(await registry.extendClaim(first!, 1000), 'extended by its reaper')
    clock.now += 900
    t.equal(await registry.claim(1000), null, 'still held')
    clock.now += 101
    const second = await registry.claim(1000)
    t.same(ids(second?.connections), [c1.connectionId], 'taken over once the claim lapsed')
    t.equal(await registry.extendClaim(first!, 1000), false, 'the first reaper learns it lost the claim')
    await registry.finishClaim(first!)
    t.equal(await registry.claim(1000), null, 'finishing a lost claim ends nothing')
  })

  t.test('a lease held by another live run is refused; a dead run\'s is taken over', async (t) => {
    const { clock, registry, start } = await setup()
    const a = unique('a')
    const gen = await start(a, 'run-1')
    const refused = await registry.start(a, 'run-2', LEASE)
    t.match(refused, { heldBy: 'run-1', renewedAt: Number }, 'held: INSTANCE_ID reuse')
    if (!('heldBy' in refused)) return
    clock.now += LEASE / 3
    t.ok(await registry.renew(a, gen, LEASE), 'the holder renews within one interval')
    t.match(await registry.start(a, 'run-2', LEASE, refused.renewedAt), { heldBy: 'run-1' }, 'still refused: it is alive')
    const again = await registry.start(a, 'run-2', LEASE)
    if (!('heldBy' in again)) return t.fail('not refused')
    clock.now += LEASE / 3 // run-1 crashed: no renewal since
    const taken = await registry.start(a, 'run-2', LEASE, again.renewedAt)
    t.ok('gen' in taken && taken.gen > gen, 'taken over with a new generation')
    t.equal(await registry.renew(a, gen, LEASE), false, 'the old run cannot renew')
    const b = unique('b')
    await start(b, 'run-1')
    clock.now += LEASE + 1
    t.match(await registry.start(b, 'run-2', LEASE), { gen: Number }, 'a lapsed lease is taken at once')
  })

  t.test('a released generation\'s leftovers are claimable at once; a restart claims its own', async (t) => {
    const { registry, start, conn, ids } = await setup()
    const a = unique('a')
    const gen = await start(a)
    const c1 = conn(a, gen)
    await registry.add(c1)
    await registry.release(a, gen)
    t.equal(await registry.renew(a, gen, LEASE), false, 'released')
    await start(a, 'run-2')
    const claim = await registry.claim(LEASE, a)
    t.same(ids(claim?.connections), [c1.connectionId], 'the earlier generation\'s connection, not the new one\'s')
  })
}
