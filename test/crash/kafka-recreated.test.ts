// Kafka re-created at the same address (wiped and started again: a new cluster id, every log
// empty), on real services that this test replaces: it runs in the serial crash step
// (`npm run test:crash`). A broadcast consumer's place in the old log means nothing in the new
// one: kafkajs would reset its out-of-range seek to the latest offset and skip what the new cluster
// received first. It reads every partition of the new log from its start, in a new epoch. A client
// holding a position of the old cluster is told `recovered: false` (its history over HTTP is what it
// has), never a false `recovered: true`, and then gets the new cluster's messages live.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { createKafkaBus } from '../../plugins/bus/kafka/index.ts'
import type { BusRecord } from '../../plugins/bus/bus.ts'
import { Client } from '../helper.ts'
import { buildReal, cleanupReal, realNames, requireService, requireServices, services, startInstanceProcess, testLogger, unique } from '../services.ts'
import type { Position } from '../../schemas/message.ts'

const run = promisify(execFile)
const script = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url))
const servicesSh = async (...args: string[]) => (await run(script, args, { env: process.env })).stdout

if (await requireService(t, 'kafka')) {
  t.test('after Kafka is re-created at its address, a broadcast consumer gets the new cluster\'s first records, in a new epoch', async (t) => {
    t.ok((await servicesSh('env')).includes(services.kafka), `scripts/services.sh manages the Kafka at ${services.kafka}`)
    if (t.counts.fail) return
    const brokers = services.kafka.split(',')
    const prefix = `${unique('recreated')}.`
    const make = (instanceId: string) => createKafkaBus({ brokers, clientId: 'switchboard-test', topicPrefix: prefix, partitions: 1, instanceId, logger: testLogger() })
    const reader = make('reader')
    t.teardown(() => reader.close())
    await reader.ensureTopics(['t'])
    const seen: BusRecord[] = []
    let arrived = () => {}
    const until = async (n: number) => { while (seen.length < n) await new Promise<void>((resolve) => { arrived = resolve }) }
    await reader.consume({ name: 'fan', topic: 't', mode: 'broadcast', handle: async (r: BusRecord) => { seen.push(r); arrived() } } as never)

    const before = make('before')
    for (const value of ['a', 'b', 'c']) await before.produce('t', 'k', value)
    await before.close()
    await until(3)

    await servicesSh('down', '--wipe', 'kafka')
    await servicesSh('up', 'kafka')
    const after = make('after')
    t.teardown(() => after.close())
    await after.ensureTopics(['t'])
    for (const value of ['d', 'e']) await after.produce('t', 'k', value)
    await until(5)

    t.same(seen.map((r) => r.value.toString()), ['a', 'b', 'c', 'd', 'e'], 'nothing of the new cluster skipped, nothing repeated')
    t.same(seen.slice(3).map((r) => r.offset), ['0', '1'], 'read from the new log\'s start')
    t.not(seen[3].epoch, seen[0].epoch, 'in a new epoch: positions of the old cluster are not comparable (recovered: false)')
  })

  t.test('a client holding a position of the old cluster resubscribes after the re-creation: recovered: false, then the new messages live', async (t) => {
    if (!await requireServices(t, 'redis', 'mongo')) return
    t.ok((await servicesSh('env')).includes(services.kafka), `scripts/services.sh manages the Kafka at ${services.kafka}`)
    if (t.counts.fail) return
    const names = realNames('recreated-app')
    t.teardown(() => cleanupReal(names))
    const app = await buildReal(t, { names, RATE_LIMIT_MAX: 0 })
    const channel = 'recreated'
    const isMessage = (f: Record<string, any>) => f.op === 'event' && f.channel === channel && f.type === 'message.created'
    const connect = async () => {
      const client = await Client.connect(`ws://127.0.0.1:${app.fanout.uwsPort}/ws?user=reader`)
      t.teardown(() => client.close())
      await client.next((f) => f.op === 'ready')
      return client
    }
    /** A post retried until it is acknowledged; before each retry the app is asked whether it is ready (no timer). */
    const posted = async (content: string): Promise<Position> => {
      for (let attempt = 1; ; attempt++) {
        const res = await app.inject({ method: 'POST', url: '/api/messages', headers: { 'x-user-id': 'poster' }, payload: { channelId: channel, content, nonce: content } })
        if (res.statusCode === 201) return res.json().position
        if (attempt === 100) throw new Error(`post ${content} not accepted after ${attempt} attempts (last: ${res.statusCode} ${res.body})`)
        await app.inject('/ready')
      }
    }

    // The client sees two messages of the old cluster, then goes away (a reconnecting client); an
    // observer stays subscribed throughout.
    const client = await connect()
    const observer = await connect()
    t.match(await client.subscribe(channel), { op: 'subscribed' })
    t.match(await observer.subscribe(channel), { op: 'subscribed' })
    for (const content of ['old-1', 'old-2']) await posted(content)
    const since = (await client.next((f) => isMessage(f) && f.data.content === 'old-2')).position as Position
    await client.close()

    await servicesSh('down', '--wipe', 'kafka')
    await servicesSh('up', 'kafka')
    // The new cluster has none of the deployment's topics, and a running instance creates them only
    // at start-up: as after a re-creation in production, an instance is started (every role, so
    // every topic), which creates them; it then stops (SIGTERM), leaving its groups.
    const deploy = await startInstanceProcess(t, names, { RATE_LIMIT_MAX: '0' })
    const stopped = new Promise((resolve) => deploy.child.once('exit', resolve))
    deploy.child.kill('SIGTERM')
    await stopped
    // A message of the new cluster that the client misses: once the observer has it live, this
    // instance reads the new log, and a `recovered: true` to the old position would hide it.
    const missed = await posted('new-1')
    t.not(missed.epoch, since.epoch, 'the new cluster\'s messages are in a new epoch')
    await observer.next((f) => isMessage(f) && f.data.content === 'new-1')

    const again = await connect()
    const subscribed = await again.subscribe(channel, since)
    t.match(subscribed, { op: 'subscribed', recovered: false }, 'the old position is answered recovered: false')
    t.not(subscribed.position?.epoch, since.epoch, 'and the client is placed in the new epoch')

    await posted('new-2')
    await again.next((f) => isMessage(f) && f.data.content === 'new-2')
    // a replay would have come between the `subscribed` frame and the live one
    t.same(again.frames.filter(isMessage).map((f) => f.data.content), ['new-2'], 'nothing replayed, then the new messages come live')
  })
}
