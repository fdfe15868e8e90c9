// Reconnect recovery (docs/recovery.md): the fanout's `onSubscribe` hook. A client that resubscribes
// with `since` gets every message event of the channel it missed, from this instance's buffer and,
// when that starts too late, the shared recovery log; or nothing at all and `recovered: false`.
import fp from 'fastify-plugin'
import type { FanoutHub } from '../../fanout/hub.ts'
import { planRecovery } from '../../fanout/recovery.ts'
import type { Position } from '../../schemas/message.ts'
import type { SubscribeResult } from '../../fanout/types.ts'
import type { RecoveryLog } from './recovery-log.ts'
import { createEmbeddedRecoveryLog } from './embedded.ts'
import { createRedisRecoveryLog } from './redis.ts'

export type * from './recovery-log.ts'

/** Counters read by /metrics: subscribes with `since`, by outcome, and frames replayed. */
export interface RecoveryStats { recovered: number, notRecovered: number, replayedEvents: number, sharedLogReads: number }

export interface Recovery {
  /** The shared log (Redis or in process), written by consumers/messages-recovery.ts. */
  readonly log: RecoveryLog
  readonly stats: RecoveryStats
  /** What a resubscribe with `since` gets; null when it cannot be proven complete. */
  recover (channel: string, since: Position): Promise<SubscribeResult | null>
}

declare module 'fastify' {
  interface FastifyInstance { recovery: Recovery }
}

export interface RecoveryPluginOptions { recoveryLog?: RecoveryLog }

export default fp<RecoveryPluginOptions>(async function recovery (app, opts) {
  const { config } = app
  const hub: FanoutHub = app.fanout.hub
  const options = { size: config.RECOVERY_LOG, ttlSeconds: config.RECOVERY_TTL_SECONDS }
  const log = opts.recoveryLog ??
    (app.redis ? createRedisRecoveryLog(app.redis, options) : createEmbeddedRecoveryLog({ ...options, maxChannels: config.RECOVERY_CHANNELS }))
  const stats: RecoveryStats = { recovered: 0, notRecovered: 0, replayedEvents: 0, sharedLogReads: 0 }
  const logger = app.log.child({ component: 'recovery' })

  async function recover (channel: string, since: Position): Promise<SubscribeResult | null> {
    const local = hub.recovery.window(channel, since.epoch)
    // This instance never published in that epoch: it cannot say where the client would stand.
    if (!local) return null
    const fromBuffer = planRecovery(since, local)
    if (fromBuffer || BigInt(since.offset) > BigInt(local.high)) return fromBuffer
    stats.sharedLogReads++
    let shared
    try {
      shared = await log.read(channel)
    } catch (err) {
      logger.warn({ err, channel }, 'shared recovery log unavailable; answering recovered: false')
      return null
    }
    // Re-read the buffer: live events published while we waited are part of the replay now.
    return planRecovery(since, hub.recovery.window(channel, since.epoch), shared)
  }

  hub.setHooks({
    async onSubscribe (_conn, channel, since, start) {
      const result = since ? await recover(channel, since) : null
      if (since) {
        if (result) { stats.recovered++; stats.replayedEvents += result.replay?.length ?? 0 } else stats.notRecovered++
      }
      // Not recovered: the client stands where the subscribe started; every later event comes live.
      return result ?? { position: start, recovered: false }
    }
  })
  app.decorate('recovery', { log, stats, recover } satisfies Recovery)
  app.log.info({ recoveryLog: log.kind }, `recovery: per-instance buffer of ${config.RECOVERY_BUFFER} events per channel, shared log ${log.kind === 'redis' ? 'in Redis' : 'in process (set REDIS_URL to share it)'}`)
}, { name: 'recovery', dependencies: ['fanout', 'redis'] })
