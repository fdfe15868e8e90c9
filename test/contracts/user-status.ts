// The user status contract (the status half of the connection registry, plugins/connections/
// registry.ts), run in process, on Redis and on Redis Cluster: a user is online while any of their
// connections is recorded on any instance; the first one in and the last one out are status changes
// whose versions only grow, so a reader keeps the newest.
import type { Test } from 'tap'
import type { ConnectionRegistry, RecordedConnection, StatusChange } from '../../plugins/connections/registry.ts'

export function userStatusContract (t: Test, make: () => Promise<ConnectionRegistry>, unique: () => string) {
  // each instance records under the generation of its lease it started (one per instance and registry)
  const leases = new WeakMap<ConnectionRegistry, Map<string, number>>()
  async function gen (registry: ConnectionRegistry, instanceId: string): Promise<number> {
    const own = leases.get(registry) ?? new Map<string, number>()
    leases.set(registry, own)
    if (!own.has(instanceId)) {
      const started = await registry.start(instanceId, unique(), 60_000)
      if (!('gen' in started)) throw new Error(`the lease of ${instanceId} is held by another run`)
      own.set(instanceId, started.gen)
    }
    return own.get(instanceId)!
  }
  const conn = (userId: string, instanceId: string, at = 0): Omit<RecordedConnection, 'gen'> =>
    ({ connectionId: unique(), userId, instanceId, transport: 'uws', connectedAt: new Date(1_700_000_000_000 + at).toISOString() })
  /** Records the connection; the status change it made (null: none). */
  async function add (registry: ConnectionRegistry, c: Omit<RecordedConnection, 'gen'>): Promise<StatusChange | null> {
    const result = await registry.add({ ...c, gen: await gen(registry, c.instanceId) })
    if (!result.recorded) throw new Error(`not recorded: ${result.why}`)
    return result.change
  }

  t.test('the first connection anywhere is online, the last one out offline, with growing versions', async (t) => {
    const registry = await make()
    const [user, a, b] = [unique(), unique(), unique()]
    const [first, second] = [conn(user, a), conn(user, b, 1)]
    const online = await add(registry, first)
    t.match(online, { userId: user, status: 'online' }, 'the first connection: online')
    t.equal(await add(registry, second), null, 'a second one, on another instance: no change')
    t.same(await registry.statuses([user]), [{ userId: user, status: 'online', version: online!.version }])
    t.same((await registry.list(user)).map((c) => c.connectionId), [first.connectionId, second.connectionId], 'both, oldest first')
    t.same(await registry.remove(a, first.connectionId, user), { removed: true, change: null }, 'one left: still online')
    const gone = await registry.remove(b, second.connectionId, user)
    t.match(gone, { removed: true, change: { userId: user, status: 'offline' } }, 'the last one out: offline')
    t.ok(gone.change!.version > online!.version, 'a newer version')
    t.same(await registry.statuses([user]), [{ userId: user, status: 'offline', version: gone.change!.version }])
    const back = await add(registry, conn(user, a, 2))
    t.ok(back!.version > gone.change!.version, 'online again: newer still')
  })

  t.test('statuses answer in the order asked; a user never seen is offline at version 0', async (t) => {
    const registry = await make()
    const [x, y, nobody, instance] = [unique(), unique(), unique(), unique()]
    await add(registry, conn(x, instance))
    await add(registry, conn(y, instance))
    const statuses = await registry.statuses([y, nobody, x])
    t.same(statuses.map((s) => [s.userId, s.status]), [[y, 'online'], [nobody, 'offline'], [x, 'online']])
    t.equal(statuses[1].version, 0)
    t.same(await registry.statuses([]), [])
  })

  t.test('removing a connection that is not recorded changes nothing', async (t) => {
    const registry = await make()
    const [user, instance] = [unique(), unique()]
    const kept = conn(user, instance)
    await add(registry, kept)
    t.same(await registry.remove(instance, unique(), user), { removed: false, change: null })
    t.equal((await registry.statuses([user]))[0].status, 'online')
    t.ok(await registry.has(instance, kept.connectionId))
  })
}
