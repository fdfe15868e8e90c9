import t from 'tap'
import { createEmbeddedReadState } from '../../plugins/read-state/embedded.ts'
import { readStateContract } from '../contracts/read-state.ts'

let n = 0
readStateContract(t, async () => createEmbeddedReadState(), () => `c${++n}`)
