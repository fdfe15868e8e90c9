// @switchboard/client against a switchboard on the embedded services (the suite is in suite.ts).
import t from 'tap'
import { build } from '../helper.ts'
import { clientSuite } from './suite.ts'

clientSuite(t, (t, config) => build(t, config))
