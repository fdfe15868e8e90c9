// Failover 1 (issue 25, item 4): the leader broker of the busiest `messages` partition is SIGKILLed
// while about 100 posts/s flow through two instances to 200 subscribers (20 per channel, half on
// each instance). Every acknowledged message is stored once and delivered once to every subscriber
// of its channel; posts answer 201 or 503 and nothing else; the broker restarts on its data and
// rejoins every partition's in-sync replicas. No time is asserted: the figures (kill → writes and
// deliveries on that partition again, delivery p99 per second) are printed.
import t from 'tap'
import { Kafka, logLevel } from 'kafkajs'
import { Client } from '../helper.ts'
import { buildReal, handledLog, realNames, services } from '../services.ts'
import type { Position } from '../../schemas/message.ts'
import { cleanupFailover, clusterEnv, conditions, quantile, requireFailoverCluster, servicesSh } from './failover.ts'

const CHANNELS = 10
const SUBSCRIBERS = 200
/** one post every 10 ms, alternately through each instance */
const POST_EVERY_MS = 10
const BEFORE_KILL = 300
const AFTER_REJOIN = 200

if (await requireFailoverCluster(t)) {
  t.test('SIGKILL the leader of the busiest messages partition under load: nothing acknowledged lost or doubled, 201 or 503 only, the broker rejoins', async (t) => {
    const names = realNames('failover-broker')
    t.teardown(() => cleanupFailover(names))
    const env = { names, ...clusterEnv(names), RATE_LIMIT_MAX: 0 }
    const a = await buildReal(t, env)
    const b = await buildReal(t, env)
    const workers = handledLog(a, b)
    const admin = new Kafka({ clientId: 'failover-test', brokers: services.kafka.split(','), logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    t.teardown(() => admin.disconnect())
    const { changed, until } = conditions()

    // Subscribers first (listeners before posting): 20 per channel, half on each instance.
    type Sub = { client: Client, channel: string, arrivals: Map<string, number[]> }
    const subs: Sub[] = await Promise.all(Array.from({ length: SUBSCRIBERS }, async (_, i) => {
      const app = i % 2 ? b : a
      const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws?user=r${i}`)
      t.teardown(() => client.close())
      await client.next((f) => f.op === 'ready')
      const channel = `room-${i % CHANNELS}`
      t.match(await client.subscribe(channel), { op: 'subscribed' })
      return { client, channel, arrivals: new Map() }
    }))
    const sentAt = new Map<string, number>()
    const latencies: Array<{ at: number, ms: number, content: string }> = []
    for (const sub of subs) {
      sub.client.ws.on('message', (data) => {
        const f = JSON.parse(data.toString())
        if (f.op !== 'event' || f.type !== 'message.created' || f.channel !== sub.channel) return
        const now = Date.now()
        const content = f.data.content as string
        sub.arrivals.set(content, [...(sub.arrivals.get(content) ?? []), now])
        const sent = sentAt.get(content)
        if (sent !== undefined) latencies.push({ at: now, ms: now - sent, content })
        changed()
      })
    }

    // The poster: what answers 201 is acknowledged; every other answer is counted by status.
    const acked: Array<{ content: string, channel: string, position: Position, at: number }> = []
    const epochOf = new Map<string, string>()
    const statuses: Record<string, number> = {}
    const inFlight = new Set<Promise<void>>()
    let n = 0
    let answered = 0
    const post = () => {
      const content = `m${++n}`
      const channel = `room-${n % CHANNELS}`
      const app = n % 2 ? b : a
      sentAt.set(content, Date.now())
      const p = app.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'poster' }, payload: { channelId: channel, content, nonce: content } })
        .then((res) => {
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
          if (res.statusCode !== 201) return
          const position = res.json().position as Position
          acked.push({ content, channel, position, at: Date.now() })
          epochOf.set(content, position.epoch)
        }, () => { statuses.error = (statuses.error ?? 0) + 1 })
        .finally(() => { inFlight.delete(p); answered++; changed() })
      inFlight.add(p)
    }
    const timer = setInterval(post, POST_EVERY_MS)
    t.teardown(() => clearInterval(timer))

    await until(() => acked.length >= BEFORE_KILL)
    // The busiest partition so far, and its leader (node.id N is scripts/services.sh's kafka-N).
    const perEpoch = new Map<string, number>()
    for (const m of acked) perEpoch.set(m.position.epoch, (perEpoch.get(m.position.epoch) ?? 0) + 1)
    const busiest = [...perEpoch.entries()].sort((x, y) => y[1] - x[1])[0][0]
    const [topic, partition] = [busiest.split('/').at(-2)!, Number(busiest.split('/').at(-1))]
    const metadata = async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions
    const leader = (await metadata()).find((p) => p.partitionId === partition)!.leader
    const node = `kafka-${leader}`
    t.comment(`busiest partition ${topic}/${partition} (${perEpoch.get(busiest)} of ${acked.length} posts), led by ${node}`)

    await servicesSh('kill', node) // returns once the process is gone
    const killedAt = Date.now()
    const onBusiest = (m: { content: string }) => epochOf.get(m.content) === busiest
    // Live again: a post made after the kill is acknowledged on that partition, and delivered.
    await until(() => acked.some((m) => m.position.epoch === busiest && sentAt.get(m.content)! > killedAt))
    const firstAck = acked.find((m) => m.position.epoch === busiest && sentAt.get(m.content)! > killedAt)!
    await until(() => latencies.some((l) => sentAt.get(l.content)! > killedAt && onBusiest(l)))
    const firstDelivery = latencies.find((l) => sentAt.get(l.content)! > killedAt && onBusiest(l))!
    // The controller's choice, as the cluster's metadata says once it has noticed.
    let newLeader = leader
    while (newLeader === leader) {
      const before = answered
      await until(() => answered > before) // one more answer between two looks
      newLeader = (await metadata()).find((p) => p.partitionId === partition)!.leader
    }
    const electedAt = Date.now()
    t.not(newLeader, leader, `partition ${partition} has a new leader (broker ${newLeader})`)

    // The broker restarts on its data and rejoins the in-sync replicas of every partition.
    const upAt = Date.now()
    await servicesSh('up', node)
    const startedAt = Date.now()
    for (let inSync = false; !inSync;) {
      const before = answered
      await until(() => answered > before) // one more answer between two looks
      inSync = (await metadata()).every((p) => p.isr.includes(leader))
    }
    const rejoinedAt = Date.now()
    t.pass(`${node} restarted on its data and is in sync on every partition of ${topic}`)
    // …and takes back the leadership it had (auto.leader.rebalance.enable): partitions and group
    // coordinators move back, and consumers rejoin, before the last phase (the apps close after it).
    for (let preferred = false; !preferred;) {
      const before = answered
      await until(() => answered > before)
      const partitions = (await admin.fetchTopicMetadata({ topics: [topic, '__consumer_offsets'] })).topics.flatMap((x) => x.partitions)
      preferred = partitions.every((p) => p.leader === p.replicas[0])
    }
    const leadingAt = Date.now()
    t.pass(`${node} leads its preferred partitions again`)
    const rejoined = acked.length
    await until(() => acked.length >= rejoined + AFTER_REJOIN)
    clearInterval(timer)
    await Promise.all([...inFlight])
    // Both instances ready (every consumer back in its group) before anything is closed.
    // (each look asks Kafka, Redis and the store: the readiness check paces the loop)
    for (const [name, app] of [['A', a], ['B', b]] as const) {
      let said = ''
      for (let ready = false; !ready;) {
        const res = await app.inject('/ready')
        ready = res.statusCode === 200
        if (!ready && res.body !== said) t.comment(`${name} not ready yet: ${said = res.body}`) // what a hang here waits for
      }
    }

    // Every answer was 201 or 503.
    t.same(Object.keys(statuses).filter((s) => s !== '201' && s !== '503'), [], `posts answered 201 or 503 only (${JSON.stringify(statuses)})`)
    // Every acknowledged message: delivered once to each subscriber of its channel…
    const byChannel = new Map<string, string[]>()
    for (const m of acked) byChannel.set(m.channel, [...(byChannel.get(m.channel) ?? []), m.content])
    await until(() => subs.every((s) => (byChannel.get(s.channel) ?? []).every((c) => s.arrivals.has(c))))
    const doubled = subs.flatMap((s) => [...s.arrivals.entries()].filter(([, at]) => at.length > 1).map(([c]) => `${s.channel}:${c}`))
    t.same(doubled, [], 'no subscriber got a message twice')
    t.pass(`every acknowledged message (${acked.length}) reached each of its channel's ${SUBSCRIBERS / CHANNELS} subscribers`)
    // …and stored once (read back page by page once the store and cache handlers are past the last of each partition).
    const lastPerEpoch = new Map<string, Position>()
    for (const m of acked) {
      const known = lastPerEpoch.get(m.position.epoch)
      if (!known || BigInt(m.position.offset) > BigInt(known.offset)) lastPerEpoch.set(m.position.epoch, m.position)
    }
    // history is read cache-first: the cache handler (a group of its own) must be past them too,
    // or a page shows the cache's newest range as it was (a slow machine lagged it 20 messages)
    await Promise.all([...lastPerEpoch.values()].flatMap((p) => [workers.handled('messages-store', p), workers.handled('messages-cache', p)]))
    const stored = new Map<string, number>()
    for (let c = 0; c < CHANNELS; c++) {
      for (let before: string | null | undefined; before !== null;) {
        const page = (await a.inject({ url: `/api/channels/room-${c}/messages?limit=100${before ? `&before=${before}` : ''}`, headers: { 'x-user-id': 'reader' } })).json()
        for (const m of page.messages) stored.set(m.content, (stored.get(m.content) ?? 0) + 1)
        before = page.nextBefore
      }
    }
    t.same(acked.filter((m) => stored.get(m.content) !== 1).map((m) => `${m.content}×${stored.get(m.content) ?? 0}`), [], 'every acknowledged message stored once')
    t.same([...stored.entries()].filter(([, count]) => count > 1).map(([c]) => c), [], 'nothing stored twice (503s included)')

    // Figures, not assertions.
    const windows: string[] = []
    for (let s = -2; ; s++) {
      const from = killedAt + s * 1000
      if (from > Date.now()) break
      const inWindow = latencies.filter((l) => l.at >= from && l.at < from + 1000).map((l) => l.ms)
      if (inWindow.length) windows.push(`${s}s:${quantile(inWindow, 0.99)}`)
    }
    t.comment(`kill → first post on partition ${partition} acknowledged ${firstAck.at - killedAt} ms, first delivered ${firstDelivery.at - killedAt} ms, new leader in the metadata ${electedAt - killedAt} ms; ${node} up on its data in ${startedAt - upAt} ms, in sync everywhere ${rejoinedAt - upAt} ms after up, leading its preferred partitions ${leadingAt - upAt} ms after up`)
    t.comment(`delivery p99 (ms) per second from the kill: ${windows.join(' ')}`)
    t.comment(`${acked.length} acknowledged, answers ${JSON.stringify(statuses)}, ${latencies.length} deliveries, overall p50 ${quantile(latencies.map((l) => l.ms), 0.5)} ms p99 ${quantile(latencies.map((l) => l.ms), 0.99)} ms`)
  })
}
