import t from 'tap'
import { createEmbeddedRegistry } from '../../plugins/connections/embedded.ts'
import { connectionRegistryContract } from '../contracts/connection-registry.ts'

let n = 0
connectionRegistryContract(t, async (opts) => createEmbeddedRegistry(opts), (what) => `${what}${++n}`)
