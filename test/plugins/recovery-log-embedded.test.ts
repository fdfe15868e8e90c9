import t from 'tap'
import { createEmbeddedRecoveryLog } from '../../plugins/recovery/embedded.ts'
import { recoveryLogContract } from '../contracts/recovery-log.ts'

let n = 0
recoveryLogContract(t, async ({ size }) => createEmbeddedRecoveryLog({ size, ttlSeconds: 60 }), () => `c${++n}`)
