// This instance's side of the lease: the generation it holds, started on demand and renewed by the
// plugin's tick. The registry is the judge: when it answers that a generation is over (renewal or a
// record refused), the generation is dropped at once and `onLost` closes its sockets (a reaper
// reports them); the next record or tick starts a new generation. An INSTANCE_ID that another live
// process holds is refused: its lease is renewed within one renew interval (a crashed run's is not).
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { ConnectionRegistry } from './registry.ts'

export class InstanceIdInUseError extends Error {
  constructor (instanceId: string) {
    super(`INSTANCE_ID "${instanceId}" is in use: another live process renews its connection lease. Give each instance its own INSTANCE_ID`)
    this.name = 'InstanceIdInUseError'
  }
}

export interface LeaseOptions {
  registry: ConnectionRegistry
  instanceId: string
  leaseMs: number
  log: FastifyBaseLogger
  /** A generation this instance held is over: its connections are a reaper's to report. */
  onLost: (gen: number) => void
}

export function createLease ({ registry, instanceId, leaseMs, log, onLost }: LeaseOptions) {
  const run = randomUUID()
  const renewEveryMs = leaseMs / 3
  let gen: number | undefined
  let starting: Promise<number> | undefined

  async function start () {
    let answer = await registry.start(instanceId, run, leaseMs)
    if ('heldBy' in answer) {
      // Unexpired: a crashed run of this id (it renews no more) or a live twin. A live holder renews
      // within one interval; wait that long, and half of one more for its timer's latency.
      log.warn({ instanceId }, 'this INSTANCE_ID holds an unexpired lease: waiting one renew interval to see whether its process is alive')
      await new Promise((resolve) => setTimeout(resolve, renewEveryMs * 1.5))
      answer = await registry.start(instanceId, run, leaseMs, answer.renewedAt)
      if ('heldBy' in answer) throw new InstanceIdInUseError(instanceId)
    }
    gen = answer.gen
    return answer.gen
  }

  return {
    renewEveryMs,
    /** The generation held now, if any. */
    current: () => gen,
    /** The generation held, started first if there is none (throws InstanceIdInUseError). */
    acquire: async () => gen ?? await (starting ??= start().finally(() => { starting = undefined })),
    /** The registry refused generation `lost`: drop it (once) and let its sockets go. */
    lost (lost: number) {
      if (gen !== lost) return
      gen = undefined
      log.error({ gen: lost }, 'this instance lost its lease on its connections (it could not renew it in time): closing them (1012); another instance reports them')
      onLost(lost)
    },
    /** Extends the generation held; drops it when the registry says it is over. */
    async renew () {
      const held = gen
      if (held !== undefined && !await registry.renew(instanceId, held, leaseMs)) this.lost(held)
    },
    /** Gives the generation up (graceful stop): whatever is still recorded is reaped at once. */
    async release () {
      if (gen !== undefined) await registry.release(instanceId, gen)
      gen = undefined
    }
  }
}

export type Lease = ReturnType<typeof createLease>
