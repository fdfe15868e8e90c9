// When the log gives up on the broadcast consumer for good, the instance's sockets would stay open
// and silently receive nothing: they are closed (1011) and new upgrades refused, so clients
// reconnect to an instance that still delivers. (Fault injection: the embedded bus, with a way to
// declare its broadcast consumer dead as kafkajs does after a non-retriable error.)
import t from 'tap'
import { once } from 'node:events'
import WebSocket from 'ws'
import { build } from '../helper.ts'
import { createEmbeddedBus } from '../../plugins/bus/embedded.ts'
import type { ConsumerSpec, EventBus } from '../../plugins/bus/index.ts'

t.test('a broadcast consumer that died for good closes the sockets (1011) and refuses new ones (503)', async (t) => {
  const inner = createEmbeddedBus({ topicPrefix: '', partitions: 3, instanceId: 'dead' })
  const specs: ConsumerSpec[] = []
  const bus: EventBus = { ...inner, kind: 'embedded', consume: async (spec) => { specs.push(spec); return inner.consume(spec) } }
  t.teardown(() => inner.close())
  const app = await build(t, {}, { bus })
  const port = app.fanout.uwsPort
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  await once(ws, 'open')
  const closed = once(ws, 'close')
  const broadcast = specs.find((s) => s.mode === 'broadcast')
  t.ok(broadcast?.onDead, 'the registry asks to hear about a dead broadcast consumer')
  broadcast!.onDead!(new Error('group authorization failed'))
  const [code] = await closed
  t.equal(code, 1011, 'the socket is closed with 1011')
  const refused = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  const [, res] = await once(refused, 'unexpected-response') as [unknown, { statusCode: number }]
  t.equal(res.statusCode, 503, 'a new upgrade is refused')
})
