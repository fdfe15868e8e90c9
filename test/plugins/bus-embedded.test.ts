import t from 'tap'
import { createEmbeddedBus } from '../../plugins/bus/embedded.ts'
import type { EventBus } from '../../plugins/bus/index.ts'
import { busContract } from '../contracts/bus.ts'

// Instances of one embedded log share it, like two app instances sharing a Kafka cluster would.
let shared: EventBus | undefined
let n = 0
busContract(t, async ({ instanceId }) => {
  if (instanceId === 'a' || !shared) shared = createEmbeddedBus({ topicPrefix: '', partitions: 3, instanceId })
  const bus = shared
  return { ...bus, close: async () => { if (instanceId === 'a') await bus.close() } }
}, () => `t${++n}`)
