// One lapse of a live instance's lease (an event-loop stall, a Redis failover) while connections
// arrive: instance A lapses, B claims and reports A's connections while A accepts more, then both
// go on renewing. The live instance is reclaimed once, never again, and every connection has exactly
// one `disconnected` per `connected`, with no user left online without a socket. On the embedded
// registry and on Redis (the clock injected in both: the lease lapses without waiting).
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { Client, build } from '../helper.ts'
import { createEmbeddedRegistry } from '../../plugins/connections/embedded.ts'
import { createRedisRegistry } from '../../plugins/connections/redis.ts'
import type { ConnectionRegistry } from '../../plugins/connections/registry.ts'
import type { ConnectionEvent } from '../../schemas/connections.ts'
import { cleanupReal, redisClient, requireService, unique } from '../services.ts'

const LEASE_SECONDS = 3000 // the timers (every 1000 s) never fire: only the ticks below run
const LEASE_MS = LEASE_SECONDS * 1000
type MakeRegistry = (t: Test, now: () => number) => Promise<ConnectionRegistry>

async function scenario (t: Test, make: MakeRegistry, during: boolean) {
  const clock = { now: Date.now() }
  const inner = await make(t, () => clock.now)
  // A gate in the reaper's removals: connections reach A while B is still reporting A's.
  let gate: { reached: () => void, open: Promise<void> } | undefined
  const registry: ConnectionRegistry = {
    ...inner,
    async remove (instanceId, connectionId, userId, reaped) {
      if (gate) { gate.reached(); await gate.open }
      return await inner.remove(instanceId, connectionId, userId, reaped)
    }
  }
  const config = { CONNECTION_LEASE_SECONDS: LEASE_SECONDS }
  const a = await build(t, { ...config, INSTANCE_ID: unique('a') }, { connections: registry })
  const b = await build(t, { ...config, INSTANCE_ID: unique('b') }, { connections: registry })
  const events: ConnectionEvent[] = []
  for (const app of [a, b]) app.connections.events.on('produced', (e) => { if ('type' in e) events.push(e) })
  const users = { alice: unique('alice'), bob: unique('bob'), carol: unique('carol') }
  const open = async (app: FastifyInstance, user: string) => {
    const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws?user=${user}`)
    const closed = new Promise<number>((resolve) => client.ws.on('close', (code) => resolve(code)))
    t.teardown(() => client.close())
    const { connectionId } = await client.next((f) => f.op === 'ready')
    return { client, id: connectionId as string, closed }
  }
  const settled = () => Promise.all([a.connections.settled(), b.connections.settled()])
  const lost = () => events.filter((e) => e.type === 'disconnected' && e.data.reason === 'instance_lost').map((e) => e.connectionId)

  const alice = await open(a, users.alice)
  await settled()
  clock.now += LEASE_MS + 1 // A missed its renewals
  let reached!: () => void
  const reaping = new Promise<void>((resolve) => { reached = resolve })
  let release!: () => void
  gate = { reached, open: new Promise((resolve) => { release = resolve }) }
  const reap = b.connections.tick()
  await reaping
  // bob reaches A while B reports alice (during), or after B's reap but before A's own tick.
  let bob: Awaited<ReturnType<typeof open>> | undefined
  if (during) bob = await open(a, users.bob)
  release()
  gate = undefined
  await reap
  if (!during) bob = await open(a, users.bob)
  await a.connections.tick()
  t.equal(await bob!.closed, 1012, 'bob, accepted under the lapsed generation, is closed (1012)')
  t.equal(await alice.closed, 1012, 'alice\'s socket, reported lost, is closed (1012)')

  // Clients reconnect; A holds a new generation and both instances renew, period after period.
  const again = await open(a, users.alice)
  const carol = await open(a, users.carol)
  await settled()
  for (let period = 0; period < 4; period++) {
    clock.now += LEASE_MS / 2
    await a.connections.tick()
    await b.connections.tick()
  }
  await settled()
  t.same(lost(), [alice.id], 'only the lapsed generation was reported lost, once')
  t.same((await registry.statuses([users.alice, users.carol])).map((s) => s.status), ['online', 'online'], 'the live instance\'s users stay online')
  t.same((await a.connections.list(users.carol)).map((c) => c.connectionId), [carol.id])

  await again.client.close()
  await carol.client.close()
  await settled()
  const ids = new Set(events.map((e) => e.connectionId))
  for (const id of ids) {
    const types = events.filter((e) => e.connectionId === id && (e.type === 'connected' || e.type === 'disconnected')).map((e) => e.type)
    t.same(types, ['connected', 'disconnected'], `${id}: one disconnected for its connected`)
  }
  t.notOk(ids.has(bob!.id), 'bob was never recorded: neither connected nor disconnected')
  t.same((await registry.statuses(Object.values(users))).map((s) => s.status), ['offline', 'offline', 'offline'], 'no ghost online')
  t.same(await registry.connectionsOf(a.instanceId), [], 'nothing left recorded on A')
}

const registries: Array<[string, MakeRegistry]> = [['embedded', async (_t, now) => createEmbeddedRegistry({ now })]]
if (await requireService(t, 'redis')) {
  const root = unique('lapse')
  t.teardown(() => cleanupReal({ keyPrefix: `${root}:` }))
  let n = 0
  registries.push(['redis', async (t, now) => {
    const redis = redisClient(t, `${root}:${++n}:`)
    await redis.connect()
    return createRedisRegistry(redis, { now })
  }])
}
for (const [kind, make] of registries) {
  t.test(`${kind}: a connection accepted during the reap of a lapsed lease`, (t) => scenario(t, make, true))
  t.test(`${kind}: a connection accepted after the reap, before the instance noticed`, (t) => scenario(t, make, false))
}
