import t from 'tap'
import { createKafkaBus } from './kafka.ts'
import { busContract } from '../../../test/contracts/bus.ts'
import { cleanupReal, requireService, services, testLogger, unique } from '../../../test/services.ts'
import type { BusRecord } from '../bus.ts'

if (await requireService(t, 'kafka')) {
  const prefix = `${unique('busb')}.`
  t.teardown(() => cleanupReal({ topicPrefix: prefix }))
  let n = 0
  const make = (instanceId: string) => createKafkaBus({ brokers: services.kafka.split(','), clientId: 'sb-test', topicPrefix: prefix, partitions: 3, instanceId, logger: testLogger() })
  busContract(t, async ({ instanceId }) => make(instanceId), () => `t${++n}`)

  t.test('concurrent produces: each answered offset holds that very record', async (t) => {
    const bus = make('a')
    t.teardown(() => bus.close())
    await bus.ensureTopics(['conc'])
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => bus.produce('conc', `k${i % 7}`, `v${i}`).then((r) => ({ ...r, value: `v${i}`, key: `k${i % 7}` }))))
    const seen = new Map<string, BusRecord>()
    let done!: () => void
    const all = new Promise<void>((resolve) => { done = resolve })
    const c = await bus.consume({ name: 'conc', topic: 'conc', mode: 'shared', handle: async (r) => { seen.set(`${r.partition}/${r.offset}`, r); if (seen.size === 300) done() } })
    await all
    await c.stop()
    for (const r of results) {
      const rec = seen.get(`${r.partition}/${r.offset}`)
      if (!rec || rec.value.toString() !== r.value || rec.key !== r.key) { t.fail(`mismatch at ${r.partition}/${r.offset}: ${rec?.value} vs ${r.value}`); return }
    }
    t.pass('every answered position holds its record')
    // per key, offsets grow in call order
    for (let k = 0; k < 7; k++) {
      const offs = results.filter((r) => r.key === `k${k}`).map((r) => BigInt(r.offset))
      t.ok(offs.every((o, i) => i === 0 || o > offs[i - 1]), `k${k} in order`)
    }
  })
}
