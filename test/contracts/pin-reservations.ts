// The pin reservation contract, run against every implementation (embedded and Redis).
import type { Test } from 'tap'
import type { PinReservations } from '../../plugins/pins/index.ts'

export function pinReservationsContract (t: Test, make: () => Promise<PinReservations>, unique: () => string) {
  const now = () => Date.now() * 1000
  const message = (i: number) => i.toString(16).padStart(24, '0')
  const loaded = async (store: PinReservations, pinned: Array<[string, number]> = []) => {
    const channel = unique()
    await store.load(channel, new Map(pinned))
    return channel
  }

  t.test('a channel whose places were never loaded says so, and counts none', async (t) => {
    const store = await make()
    const channel = unique()
    t.same(await store.pin(channel, message(1), 50, now()), { outcome: 'unloaded' })
    t.same(await store.stamp(channel, message(1), now()), { outcome: 'unloaded' })
    t.equal(await store.count(channel), 0)
  })

  t.test('the limit: 50 pins take 50 places, the 51st is full; a pinned message pins again (held)', async (t) => {
    const store = await make()
    const channel = await loaded(store)
    for (let i = 1; i <= 50; i++) t.match(await store.pin(channel, message(i), 50, now()), { outcome: 'new' }, `pin ${i}`)
    t.same(await store.pin(channel, message(51), 50, now()), { outcome: 'full' }, 'the 51st is refused')
    t.equal(await store.count(channel), 50)
    t.match(await store.pin(channel, message(7), 50, now()), { outcome: 'held' }, 'a message holding a place keeps it when full')
    t.equal(await store.count(channel), 50)
  })

  t.test('concurrent pins never take more places than the limit', async (t) => {
    const store = await make()
    const channel = await loaded(store)
    const results = await Promise.all(Array.from({ length: 80 }, (_, i) => store.pin(channel, message(i + 1), 50, now())))
    t.equal(results.filter((r) => r.outcome === 'new').length, 50, '50 new places')
    t.equal(results.filter((r) => r.outcome === 'full').length, 30, 'and 30 refused')
    t.equal(await store.count(channel), 50)
    const versions = results.flatMap((r) => 'version' in r ? [r.version] : [])
    t.equal(new Set(versions).size, 50, 'each with a version of its own')
  })

  t.test('versions grow with every pin and stamp of a channel, from at least the time given', async (t) => {
    const store = await make()
    const channel = await loaded(store)
    const start = now()
    const seen: number[] = []
    for (const call of [() => store.pin(channel, message(1), 50, start), () => store.stamp(channel, message(1), start), () => store.pin(channel, message(2), 50, start), () => store.stamp(channel, message(3), start)]) {
      const result = await call()
      if (!('version' in result)) return t.fail(`no version: ${JSON.stringify(result)}`)
      seen.push(result.version)
    }
    t.ok(seen[0] >= start, 'at least the time given')
    t.ok(seen.every((v, i) => i === 0 || v > seen[i - 1]), `strictly growing (${seen.join(', ')})`)
    t.ok(seen.every(Number.isSafeInteger), 'integers')
  })

  t.test('a stamp keeps the place until it is released with that version; a stamp of an unpinned message takes none', async (t) => {
    const store = await make()
    const channel = await loaded(store)
    await store.pin(channel, message(1), 1, now())
    const stamp = await store.stamp(channel, message(1), now())
    t.match(stamp, { outcome: 'held' })
    t.same(await store.pin(channel, message(2), 1, now()), { outcome: 'full' }, 'still taken until released')
    t.equal(await store.release(channel, message(1), (stamp as { version: number }).version), true)
    t.equal(await store.count(channel), 0)
    t.match(await store.stamp(channel, message(3), now()), { outcome: 'absent' })
    t.equal(await store.count(channel), 0, 'an absent message takes no place')
    t.match(await store.pin(channel, message(2), 1, now()), { outcome: 'new' }, 'the freed place is taken')
  })

  t.test('a release with an older version than the latest does nothing (a later request re-stamped the pin)', async (t) => {
    const store = await make()
    const channel = await loaded(store)
    const first = await store.pin(channel, message(1), 50, now()) as { version: number }
    const again = await store.pin(channel, message(1), 50, now()) as { version: number }
    t.equal(await store.release(channel, message(1), first.version), false)
    t.equal(await store.count(channel), 1)
    t.equal(await store.release(channel, message(1), again.version), true)
    t.equal(await store.release(channel, message(1), again.version), false, 'twice: nothing left to release')
  })

  t.test('load seeds the places and the clock from the store once; a second load changes nothing', async (t) => {
    const store = await make()
    const future = now() + 60_000_000
    const channel = await loaded(store, [[message(1), future], [message(2), 5]])
    t.equal(await store.count(channel), 2)
    t.same(await store.pin(channel, message(3), 2, now()), { outcome: 'full' }, 'the loaded pins count')
    const stamp = await store.stamp(channel, message(3), now()) as { version: number }
    t.ok(stamp.version > future, 'versions go on above the loaded ones')
    await store.load(channel, new Map())
    t.equal(await store.count(channel), 2, 'not reloaded')
    t.equal(await store.release(channel, message(2), 5), true, 'a loaded place is released with its stored version')
  })
}
