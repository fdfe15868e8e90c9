// The threads suite on the embedded services.
import t from 'tap'
import { build } from '../helper.ts'
import { threadsSuite } from './threads-suite.ts'

threadsSuite(t, (t, config) => build(t, config))
