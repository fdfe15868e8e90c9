import t from 'tap'
import { build } from '../helper.ts'
import { deadLetterSuite } from './dead-letters-suite.ts'

deadLetterSuite(t, (t) => build(t))
