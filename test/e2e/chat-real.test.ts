// The chat suite against Kafka, Redis and MongoDB (FerretDB): names of its own per test.
import t from 'tap'
import { buildReal, cleanupReal, realNames, requireServices, unique } from '../services.ts'
import { chatSuite } from './chat-suite.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  chatSuite(t, async (t, config = {}) => {
    const names = realNames('chat')
    const app = await buildReal(t, { names, ...config })
    t.teardown(() => cleanupReal(names))
    return app
  }, unique)
}
