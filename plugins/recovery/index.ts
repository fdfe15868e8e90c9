// Reconnect recovery (docs/recovery.md): the fanout's `onSubscribe` hook. A client that resubscribes
// with `since` gets every message event of the channel it missed, from this instance's buffer and,
// when that starts too late, the shared recovery log; or nothing at all and `recovered: false`.
// All of recovery lives in this folder: the buffer (buffer.ts), the replay plan and revisions
// (plan.ts), the shared log (recovery-log.ts and its two stores), and this file, the only one that
// knows Fastify, which wires them to the hub. The hub knows nothing of recovery: it answers the
// `onSubscribe` decision and feeds the buffer through its `onPublished` tap.
import fp from 'fastify-plugin'
import type { FanoutHub } from '../../fanout/hub.ts'
import { before, planRecovery, type ChannelWindow } from './plan.ts'
import { topics } from '../../schemas/topics.ts'
import { consumerName } from '../topic-handlers.ts'
import { RecoveryBuffer } from './buffer.ts'
import type { Position } from '../../schemas/message.ts'
import type { Connection, SubscribeResult } from '../../fanout/types.ts'
import type { RecoveryLog } from './recovery-log.ts'
import { createEmbeddedRecoveryLog } from './embedded.ts'
import { createRedisRecoveryLog } from './redis.ts'
import { createSingleFlight } from '../single-flight.ts'

export type * from './recovery-log.ts'
export type { RecoveryBufferOptions } from './buffer.ts'

/**
 * Counters read by /metrics. `recovered` / `notRecovered`: subscribes with `since` by the answer the
 * client got (a replay the hub refused as over its budget counts as not recovered);
 * `replayedEvents`: frames of the replays sent; `sharedLogReads` / `sharedLogEvents`: reads of the
 * shared log and the events they returned (a read that cannot answer returns none).
 */
export interface RecoveryStats {
  readonly recovered: number
  readonly notRecovered: number
  readonly replayedEvents: number
  readonly sharedLogReads: number
  readonly sharedLogEvents: number
}

export interface Recovery {
  /** This instance's recent message events per channel, fed by every positioned publish (its
   *  `revise` is called by consumers/messages-fanout.ts after an edit or deletion). */
  readonly buffer: RecoveryBuffer
  /** The shared log (Redis or in process), written by consumers/messages-recovery.ts. */
  readonly log: RecoveryLog
  readonly stats: RecoveryStats
  /** What a resubscribe with `since` gets; null when it cannot be proven complete. With `conn`,
   *  the shared log reads no more than fits beside what that socket has queued. */
  recover (channel: string, since: Position, conn?: Connection): Promise<SubscribeResult | null>
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
  const logger = app.log.child({ component: 'recovery' })
  const buffer = new RecoveryBuffer({ size: config.RECOVERY_BUFFER, maxChannels: config.RECOVERY_CHANNELS, maxBytes: config.RECOVERY_BUFFER_BYTES })
  hub.onPublished((channel, frame, position) => { if (position) buffer.remember(channel, position, frame) })
  // What onSubscribe answered. The hub may still refuse a replay over its budget (it then answers
  // recovered: false and says so in onReplayRefused); this plugin owns the onSubscribe decision (a
  // second owner is an error at boot), so every such refusal is one of the recoveries counted here.
  const answered = { recovered: 0, notRecovered: 0, replayedEvents: 0, sharedLogReads: 0, sharedLogEvents: 0, refusedByHub: 0 }
  hub.addHook('onReplayRefused', async (_conn, _channel, frames) => {
    answered.refusedByHub++
    answered.replayedEvents -= frames
  }, 'recovery')
  const stats: RecoveryStats = {
    get recovered () { return answered.recovered - answered.refusedByHub },
    get notRecovered () { return answered.notRecovered + answered.refusedByHub },
    get replayedEvents () { return answered.replayedEvents },
    get sharedLogReads () { return answered.sharedLogReads },
    get sharedLogEvents () { return answered.sharedLogEvents }
  }

  // A storm of resubscribes to one channel with the same position shares one read of the log.
  const logReads = createSingleFlight<ChannelWindow | null>()

  const fanoutConsumer = consumerName(topics.messages, 'broadcast')
  /**
   * What this instance can prove of the channel in `epoch`: its buffer's window, from where its
   * fanout consumer reads the partition without a break (`broadcastFrom`: where it began, or where a
   * selective fanout resumed it). Every record from there on goes through the hub, none before it
   * did: before it has published anything since (a restarted instance, a partition just resumed)
   * the client stands just before it, with nothing proven locally, and the shared log must cover
   * the rest. Events the buffer kept from an earlier read of the partition are older than that
   * point, and may miss a revision made since: they are left to the shared log.
   */
  function localWindow (channel: string, epoch: string): ChannelWindow | null {
    const window = buffer.window(channel, epoch)
    if (!app.bus.broadcastFrom) return window // the embedded bus reads every partition from its start here
    const from = app.bus.broadcastFrom(fanoutConsumer, epoch)
    // not read here: nothing to stand on (a selective fanout's buffer may hold a window of the
    // partition from before it paused it: stale)
    if (from === undefined) return app.fanoutReads.selective ? null : window
    const floor = before(from)
    if (!window || BigInt(window.high) < BigInt(floor)) return { epoch, floor, high: floor, events: [] }
    if (BigInt(window.floor) >= BigInt(floor)) return window
    return { ...window, floor, events: window.events.filter((e) => BigInt(e.offset) > BigInt(floor)) }
  }

  async function recover (channel: string, since: Position, conn?: Connection): Promise<SubscribeResult | null> {
    const local = localWindow(channel, since.epoch)
    // This instance does not read that epoch: it cannot say where the client would stand.
    if (!local) return null
    const fromBuffer = planRecovery(since, local)
    if (fromBuffer || BigInt(since.offset) > BigInt(local.high)) return fromBuffer
    answered.sharedLogReads++
    let shared
    try {
      // Only what the replay needs, and only when the log can prove it: a `since` older than the
      // log's window, or a replay over what the socket still has room for, reads no events (issue 10, item 7).
      const range = { since, upTo: local.high, maxBytes: conn ? hub.replayRoom(conn) : hub.maxReplayBytes }
      shared = await logReads.run(`${channel}\0${since.epoch}\0${since.offset}\0${range.upTo}\0${range.maxBytes}`, () => log.read(channel, range))
    } catch (err) {
      logger.warn({ err, channel }, 'shared recovery log unavailable; answering recovered: false')
      return null
    }
    answered.sharedLogEvents += shared?.events.length ?? 0
    // Re-read the buffer: live events published while we waited are part of the replay now.
    return planRecovery(since, localWindow(channel, since.epoch), shared)
  }

  hub.setDecision('onSubscribe', async (conn, channel, since, start) => {
    // A selective fanout reads the channel's partition from now on (from the log's end when no
    // socket here needed it): before the window is looked for, so that it stands on that point.
    const reading = await app.fanoutReads.want(conn, channel)
    const result = since ? await recover(channel, since, conn) : null
    if (since) {
      if (!result) answered.notRecovered++
      else {
        // A replay that does not fit beside what the socket has queued is refused by the hub,
        // which reports it to onReplayRefused above (that takes it back out of these counts).
        answered.recovered++
        answered.replayedEvents += result.replay?.length ?? 0
      }
    }
    // Not recovered: the client stands where the subscribe started; every later event comes live.
    // A partition just resumed: the channel's last position here is from before the pause, and
    // its events up to the resume never come live: the client stands just before the resume.
    if (!result && reading && (!start || (start.epoch === reading.epoch && BigInt(start.offset) < BigInt(before(reading.offset))))) {
      return { position: { epoch: reading.epoch, offset: before(reading.offset) }, recovered: false }
    }
    return result ?? { position: start, recovered: false }
  }, 'recovery')
  app.decorate('recovery', { buffer, log, stats, recover } satisfies Recovery)
  app.log.info({ recoveryLog: log.kind }, `recovery: per-instance buffer of ${config.RECOVERY_BUFFER} events per channel, shared log ${log.kind === 'redis' ? 'in Redis' : 'in process (set REDIS_URL or REDIS_CLUSTER_NODES to share it)'}`)
}, { name: 'recovery', dependencies: ['fanout', 'fanout-reads', 'redis', 'bus'] })
