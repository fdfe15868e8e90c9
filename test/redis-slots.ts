// Hash slots without a cluster: wraps a client so that every command it sends is checked the way a
// Redis Cluster would check it. A script or multi-key command whose keys span hash slots, or a
// transaction (MULTI … EXEC) whose commands do, is recorded as a violation (CROSSSLOT on a cluster).
import calculateSlot from 'cluster-key-slot'
import type { Redis } from 'ioredis'

export interface SlotViolation { what: string, keys: string[] }

export interface SlotRecorder {
  /** commands sent, by name (evalsha for a script) */
  readonly sent: Map<string, number>
  readonly violations: SlotViolation[]
}

const slots = (keys: string[]) => new Set(keys.map((k) => calculateSlot(k)))

/** Records what `redis` sends from now on (its key prefix included, as the cluster would see it). */
export function recordSlots (redis: Redis): SlotRecorder {
  const recorder: SlotRecorder = { sent: new Map(), violations: [] }
  let transaction: { what: string[], keys: string[] } | null = null
  const send = redis.sendCommand.bind(redis)
  redis.sendCommand = ((command, ...rest) => {
    const name = command.name.toLowerCase()
    const keys = command.getKeys().map(String)
    recorder.sent.set(name, (recorder.sent.get(name) ?? 0) + 1)
    if (name === 'multi') transaction = { what: [], keys: [] }
    else if (name === 'exec' && transaction) {
      if (slots(transaction.keys).size > 1) recorder.violations.push({ what: `MULTI ${transaction.what.join(' ')} EXEC`, keys: transaction.keys })
      transaction = null
    } else if (transaction) {
      transaction.what.push(name)
      transaction.keys.push(...keys)
    } else if (slots(keys).size > 1) recorder.violations.push({ what: name, keys })
    return send(command, ...rest)
  }) as Redis['sendCommand']
  return recorder
}
