// Connection lifecycle and user status on the real services, with an instance killed by SIGKILL:
// instance A runs as its own process (server.ts), instance B in this one watches the topics.
import { once } from 'node:events'
import t from 'tap'
import { Client } from '../helper.ts'
import { buildReal, cleanupReal, realNames, requireServices, startInstanceProcess, unique } from '../services.ts'
import { topicLog, isConn, isStatus } from '../connections-log.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('conns')
  t.teardown(() => cleanupReal(names))
  const LEASE = 2

  t.test('SIGKILL: the lease lapses and another instance reports the connection lost, once', async (t) => {
    const log = topicLog()
    const b = await buildReal(t, { names, CONNECTION_LEASE_SECONDS: LEASE }, { handlers: log.handlers })
    const user = unique('erin')
    // A contact on B watches the user's status.
    const watcher = await Client.connect(`ws://127.0.0.1:${b.fanout.uwsPort}/ws?user=${unique('watcher')}`)
    t.teardown(() => watcher.close())
    const ofUser = (status: string) => (f: Record<string, any>) => f.op === 'event' && f.channel === `status:${user}` && f.data.status === status
    t.match(await watcher.subscribe(`status:${user}`), { op: 'subscribed' })
    t.match(await watcher.next(ofUser('offline')), { data: { userId: user, version: 0 } }, 'the watcher on B: offline at first')
    const a = await startInstanceProcess(t, names, { INSTANCE_ID: unique('a'), CONNECTION_LEASE_SECONDS: String(LEASE) })

    const client = await Client.connect(`ws://127.0.0.1:${a.port}/ws?user=${user}`)
    t.teardown(() => client.close())
    const { connectionId } = await client.next((f) => f.op === 'ready')
    t.match(await log.next(isConn(connectionId, 'connected')), { userId: user, data: { transport: 'uws' } }, 'connected, produced by A')
    await log.next(isStatus(user, 'online'))
    t.same((await b.inject({ url: `/api/users/${user}/status` })).json().status, 'online', 'online, as B answers')
    const online = await watcher.next(ofUser('online'))

    a.child.kill('SIGKILL')
    const lost = await log.next(isConn(connectionId, 'disconnected'))
    t.match(lost, { id: `${connectionId}:disconnected`, userId: user, data: { reason: 'instance_lost', code: null } }, 'disconnected (instance_lost), produced by B')
    await log.next(isStatus(user, 'offline'))
    t.same((await b.inject({ url: `/api/users/${user}/status` })).json().status, 'offline', 'offline, as B answers')
    const offline = await watcher.next(ofUser('offline'))
    t.ok(offline.data.version > online.data.version, 'the watcher on B saw the user go offline after the crash')
    await b.connections.settled()
    t.same(log.of(connectionId).map((e) => e.type), ['connected', 'disconnected'], 'one disconnected for the one connected')
  })

  t.test('an INSTANCE_ID another live process holds is refused at start, naming it; after a crash it starts again', async (t) => {
    const id = unique('twin')
    // a longer lease than above: the first process renews every 2 s, the second watches for 3 s
    const env = { INSTANCE_ID: id, CONNECTION_LEASE_SECONDS: '6' }
    const first = await startInstanceProcess(t, names, env)
    await t.rejects(startInstanceProcess(t, names, env), { message: new RegExp(`INSTANCE_ID "${id}" is in use`) }, 'the second process with the same id exits, naming it')
    first.child.kill('SIGKILL')
    await once(first.child, 'exit')
    const again = await startInstanceProcess(t, names, env)
    t.ok(again.port > 0, 'the same id starts after a crash: its lease is renewed no more')
  })
}
