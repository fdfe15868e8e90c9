import t from 'tap'
import { createEmbeddedPresence } from '../../plugins/presence/embedded.ts'
import { presenceContract } from '../contracts/presence.ts'

let n = 0
presenceContract(t, async (opts) => createEmbeddedPresence(opts), () => `c${++n}`)
