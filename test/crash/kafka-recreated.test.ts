// Kafka re-created at the same address (wiped and started again: a new cluster id, every log
// empty), on real services that this test replaces: it runs in the serial crash step
// (`npm run test:crash`). A broadcast consumer's place in the old log means nothing in the new
// one: kafkajs would reset its out-of-range seek to the latest offset and skip what the new cluster
// received first. It reads every partition of the new log from its start, in a new epoch.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { createKafkaBus } from '../../plugins/bus/kafka/index.ts'
import type { BusRecord } from '../../plugins/bus/bus.ts'
import { requireService, services, testLogger, unique } from '../services.ts'

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
}
