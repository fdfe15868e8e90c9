// Issue 14: a rebalance while a handler is stuck on a MongoDB outage gives no write after the
// partition moved. Two instances of one deployment share the `messages` group: A reaches MongoDB
// through a TCP proxy that is cut, so its store handler keeps retrying the batches it holds; B
// joins (directly connected), the group rebalances and B stores the records of the partitions it
// got. Once MongoDB is back for A, A must not write anything of a partition B took: between two
// attempts its retry loop asks whether it still owns the partition and heartbeats
// (plugins/topic-handlers.ts `pause`); once B asked to join, the broker refuses that heartbeat
// (REBALANCE_IN_PROGRESS), A gives the batch up (left for redelivery) and only then rejoins: the
// broker completes the rebalance only once every member rejoined, and kafkajs rejoins only once
// every batch of its last fetch is done. Were the check gone, A would keep retrying, never rejoin,
// be dropped from the group after the rebalance timeout (30 s), and write B's records once
// MongoDB is back.
import { EventEmitter, once } from 'node:events'
import { Writable } from 'node:stream'
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs'
import App, { serverOptions } from '../../app.ts'
import { loadConfig } from '../../config.ts'
import { defineTopicHandler, type HandledRecord } from '../../plugins/topic-handlers.ts'
import type { Message } from '../../schemas/message.ts'
import { topics } from '../../schemas/topics.ts'
import { TcpProxy } from '../proxy.ts'
import { address, cleanupReal, mongoDatabase, realEnv, realNames, requireServices, services, unique } from '../services.ts'

type Name = 'A' | 'B'
interface LogLine { by: Name, msg: string, handler?: string, attempt?: number, partition?: number, [field: string]: unknown }

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  const names = realNames('rebalance')
  const proxy = await TcpProxy.start(address('mongo'))
  const kafka = new Kafka({ clientId: 'switchboard-test', brokers: services.kafka.split(','), logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  const apps: FastifyInstance[] = []
  // What the test is waiting for, said when a wait never ends (the tap timeout) instead of a bare "timeout!".
  let awaiting: string | undefined
  // Teardowns run in the order they were added: the apps stop first, one after the other (the last
  // started first, as the other multi-instance tests do), then the rest.
  t.teardown(async () => {
    if (awaiting) console.error(`# was still waiting for: ${awaiting}`)
    for (const app of [...apps].reverse()) await app.close()
    await Promise.all([proxy.close(), admin.disconnect()])
    await cleanupReal(names)
  })

  // One ordered history of what both instances' handlers finished, and of A's and B's warnings and
  // errors: both instances run in this process, so the order is the order things happened in.
  const history: Array<HandledRecord & { by: Name }> = []
  const logs: LogLine[] = []
  const changes = new EventEmitter()
  // A record the store handler dead-lettered was never stored, and no rebalance will bring it to
  // B: a MongoDB outage must leave records waiting in the log (retried until it is back), so a
  // dead letter ends the test with what happened instead of leaving it waiting.
  const deadLetters = () => history.filter((h) => h.handler === 'messages-store' && h.outcome === 'dead-letter')
  /** Waits, one event at a time (a handled record or a log line), until `condition` holds; false if a record was dead-lettered meanwhile. */
  async function until (what: string, condition: () => boolean): Promise<boolean> {
    awaiting = what
    while (!condition() && deadLetters().length === 0) await once(changes, 'changed')
    awaiting = undefined
    return deadLetters().length === 0
  }

  // Holds A's fetch loop while the outage's messages are posted: kafkajs fetches again only once
  // every batch of the last fetch is done, so when the hold lets go, ONE fetch returns the records
  // of every partition and A's store handler is stuck on all of them at once (without the hold, A
  // would be stuck on whichever partition's record arrived first and never fetch the others).
  const holdContent = unique('hold')
  let hold: { entered: boolean, release: () => void, released: Promise<void> } | undefined
  const holder = defineTopicHandler({
    name: 'test-hold',
    topic: topics.messages,
    mode: 'shared',
    async handle (event) {
      if (!hold || event.type !== 'message.created' || event.data.content !== holdContent) return
      hold.entered = true
      changes.emit('changed')
      await hold.released
    }
  })

  /** An instance of the deployment (buildReal's settings) whose handled events and log lines the test sees from the start. */
  async function instance (by: Name, mongoUrl: string): Promise<FastifyInstance> {
    const config = loadConfig({}, {
      PORT: 0,
      WS_PORT: 0,
      LOG_LEVEL: 'warn',
      SHED_EVENT_LOOP_DELAY_MS: 0,
      SHED_EVENT_LOOP_UTILIZATION: 0,
      ...realEnv(names),
      MONGO_URL: mongoUrl,
      INSTANCE_ID: unique(by),
      // names the instance's members in the consumer group (read back with describeGroups)
      KAFKA_CLIENT_ID: `switchboard-${by}`
    })
    const stream = new Writable({
      write (chunk, _encoding, done) {
        for (const line of chunk.toString().split('\n')) {
          if (!line) continue
          logs.push({ ...JSON.parse(line), by })
          if (process.env.TEST_LOG_LEVEL) console.error(`# ${by}: ${line}`)
          changes.emit('changed')
        }
        done()
      }
    })
    const app = Fastify({ ...serverOptions(config), logger: { level: 'warn', stream } })
    apps.push(app)
    await app.register(App, { config, handlers: [holder] })
    // before the consumers start (onReady): a record handled while `ready` runs is seen too
    app.topicHandlers.events.on('handled', (h) => {
      history.push({ ...h, by })
      changes.emit('changed')
    })
    await app.ready()
    return app
  }

  t.test('a rebalance while A\'s store handler is stuck on a MongoDB outage: no write from A after a partition moved to B', async (t) => {
    const a = await instance('A', `mongodb://127.0.0.1:${proxy.port}/?directConnection=true`)
    const partitions = a.config.KAFKA_PARTITIONS

    const key = (p: { epoch: string, offset: string }) => `${p.epoch}@${p.offset}`
    const post = async (channelId: string, content: string): Promise<Message> => {
      const res = await a.inject({ method: 'POST', url: '/api/messages', payload: { channelId, content, senderId: 'u1' } })
      t.equal(res.statusCode, 201, `posted ${content}`)
      return res.json()
    }
    const handledBy = (by: Name | undefined, handler: string, m: Message) =>
      history.find((h) => (by === undefined || h.by === by) && h.handler === handler && h.outcome === 'ok' && key(h) === key(m.position!))
    const storedBy = (by: Name | undefined, m: Message) => handledBy(by, 'messages-store', m)
    const deadLettered = () => {
      const lost = deadLetters()
      t.fail(`${lost.map((h) => `instance ${h.by} dead-lettered ${h.partition}/${h.offset}`).join(', ')} during the MongoDB outage instead of retrying it until MongoDB is back ` +
        '(the store handler took the outage for a permanent error: tried maxAttempts times, then dead-lettered), so these records were never stored')
    }
    const partitionOf = (m: Message) => history.find((h) => key(h) === key(m.position!))!.partition

    // 1. A alone owns every partition. Channels until every partition has some (the key is the channel).
    const channels: string[] = []
    const before: Message[] = []
    while (channels.length < 6 || new Set(before.map(partitionOf)).size < partitions) {
      if (channels.length >= 40) {
        t.fail(`40 channels and still not every partition of ${partitions} has one`)
        return
      }
      const channel = unique('room')
      channels.push(channel)
      const m = await post(channel, `${channel}: before`) // A reads the channel now: it knows it during the outage
      before.push(m)
      if (!await until(`A stored ${m.content}`, () => storedBy('A', m) !== undefined)) return deadLettered()
    }

    // 2. MongoDB goes away for A while its fetch loop is held; then posts to every channel.
    let release!: () => void
    const released = new Promise<void>((resolve) => { release = resolve })
    hold = { entered: false, release, released }
    const held = await post(channels[0], holdContent)
    if (!await until('A\'s fetch loop held, the hold message stored', () => hold!.entered && storedBy('A', held) !== undefined)) return deadLettered()
    await proxy.cut()
    const stuck: Message[] = []
    for (const channel of channels) for (const n of [1, 2]) stuck.push(await post(channel, `${channel}: during ${n}`))
    hold.release()
    const stuckKeys = new Set(stuck.map((m) => key(m.position!)))
    const isStuck = (h: HandledRecord) => h.topic === 'messages' && stuckKeys.has(key(h))
    const storeFailed = () => logs.some((l) => l.by === 'A' && l.handler === 'messages-store' && /^topic handler failed/.test(l.msg))
    // A has all of them in hand, one batch per partition (its cache handler, on Redis, is done with
    // them) and its store handler failed on them: it is retrying.
    if (!await until('A holding every record posted during the outage, its store handler failing on them', () =>
      stuck.every((m) => handledBy('A', 'messages-cache', m)) && storeFailed())) return deadLettered()
    const heldPartitions = new Set(stuck.map(partitionOf))
    t.equal(heldPartitions.size, partitions, `A holds records of each of the ${partitions} partitions, none stored`)
    t.notOk(stuck.some((m) => storedBy(undefined, m)), 'none of them stored')

    // 3. B joins the group: the rebalance needs A's members to rejoin, so A must let go of its batches.
    const startedB = history.length
    await instance('B', services.mongo)
    // B's consumers joined (its `ready` waits for that): the group's assignment as the broker has it now.
    const { groups: [group] } = await admin.describeGroups([`${names.topicPrefix}shared.messages`])
    const assigned = (clientId: string) => group.members
      .filter((m) => m.clientId === clientId)
      .flatMap((m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[`${names.topicPrefix}messages`] ?? [])
    const assignedToB = assigned('switchboard-B')
    t.comment(`after the rebalance: A has partitions [${assigned('switchboard-A')}], B has [${assignedToB}]`)
    if (assignedToB.length === 0) {
      t.fail('B was assigned no partition of the messages group: the test proves nothing (expected the rebalance to move at least one partition to B)')
      return
    }
    const ofB = (m: Message) => assignedToB.includes(partitionOf(m))
    if (!await until(`B storing the outage's records of partitions ${assignedToB}`, () =>
      stuck.filter(ofB).every((m) => storedBy('B', m)))) return deadLettered()

    // 4. MongoDB is back for A: it stores what it still owns; nothing of B's partitions.
    await proxy.restore()
    // Every record stored by someone, and every batch A held during the outage let go of: given up
    // (the bus logs it: redelivered) or, were the rebalance ignored, finished (handled events).
    const threw = (p: number) => logs.some((l) => l.by === 'A' && l.partition === p && /^topic handler threw/.test(l.msg))
    const finished = (p: number) => stuck.filter((m) => partitionOf(m) === p).every((m) => storedBy('A', m))
    if (!await until('every record posted during the outage stored, and A done with each batch it held', () =>
      stuck.every((m) => storedBy(undefined, m)) && [...heldPartitions].every((p) => threw(p) || finished(p)))) return deadLettered()

    // 5. No write from A after a partition moved.
    const byB = history.filter((h) => h.by === 'B' && h.topic === 'messages')
    t.ok(byB.some((h) => h.handler === 'messages-store' && isStuck(h)), 'B stored records that A had been stuck on')
    const moved = new Set([...assignedToB, ...byB.map((h) => h.partition)])
    for (const p of moved) {
      const from = history.findIndex((h, i) => i >= startedB && h.by === 'B' && h.topic === 'messages' && h.partition === p)
      const lateA = history.filter((h, i) => i > from && h.by === 'A' && h.topic === 'messages' && h.partition === p)
      t.same(lateA.map((h) => `${h.handler} ${h.partition}/${h.offset}`), [], `partition ${p} moved to B: A handled nothing of it after B began`)
      const storedByA = stuck.filter((m) => partitionOf(m) === p && storedBy('A', m))
      t.same(storedByA.map((m) => m.content), [], `partition ${p}: A stored none of the records it had been stuck on`)
      t.ok(threw(p), `partition ${p}: A gave its stuck batch up (left for redelivery)`)
    }
    for (const m of stuck.filter((m) => !ofB(m))) t.equal(storedBy(undefined, m)?.by, 'A', `${m.content}: stored by A, which kept its partition`)
    t.same(deadLetters(), [], 'nothing dead-lettered')

    // Every message posted is in the store exactly once, as posted.
    const posted = [...before, held, ...stuck]
    const docs = await mongoDatabase(t, names.database).collection<{ _id: string }>('messages').find({ _id: { $in: posted.map((m) => m.id) } }).toArray()
    t.same(docs.map((d) => d._id).sort(), posted.map((m) => m.id).sort(), `each of the ${posted.length} messages stored once`)
    for (const m of posted) {
      const doc = docs.find((d) => d._id === m.id) as unknown as Message | undefined
      t.equal(doc?.content, m.content, `${m.content}: as posted`)
    }
  })
}
