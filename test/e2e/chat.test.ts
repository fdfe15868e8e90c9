import t from 'tap'
import { build } from '../helper.ts'
import { chatSuite } from './chat-suite.ts'

chatSuite(t, (t, config) => build(t, config))
