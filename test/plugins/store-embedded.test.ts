import t from 'tap'
import { createEmbeddedStore } from '../../plugins/store/embedded.ts'
import { storeContract } from '../contracts/store.ts'

let n = 0
storeContract(t, async () => createEmbeddedStore(), () => `s${++n}`)
