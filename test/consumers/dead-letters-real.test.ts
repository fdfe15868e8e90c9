// Dead letters on real Kafka (with Redis and MongoDB behind the handlers).
import t from 'tap'
import { buildReal, cleanupReal, realNames, requireServices } from '../services.ts'
import { deadLetterSuite } from './dead-letters-suite.ts'

if (await requireServices(t, 'kafka', 'redis', 'mongo')) {
  deadLetterSuite(t, async (t) => {
    const names = realNames('dlq')
    const app = await buildReal(t, { names })
    t.teardown(() => cleanupReal(names))
    return app
  })
}
