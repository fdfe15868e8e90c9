// The threads suite on Kafka, Redis and MongoDB (FerretDB): names of their own per test.
import t from 'tap'
import { buildReal, cleanupReal, realNames, requireServices } from '../services.ts'
import { threadsSuite } from './threads-suite.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  threadsSuite(t, async (t, config = {}) => {
    const names = realNames('threads')
    const app = await buildReal(t, { names, ...config })
    t.teardown(() => cleanupReal(names))
    return app
  })
}
