// The connection registry in process: one instance (or apps in one test process sharing it). The
// same rules as the Redis scripts in redis.ts, each step synchronous (so atomic) in between awaits.
import type { UserStatus } from '../../schemas/connections.ts'
import { ENDED_TTL_MS, byConnectedAt, live, type ConnectionRegistry, type RecordedConnection, type RegistryOptions, type StatusChange } from './registry.ts'

interface Lease { gen: number, until: number, run: string, renewed: number, claim?: string, claimUntil?: number }

export function createEmbeddedRegistry (options: RegistryOptions = {}): ConnectionRegistry {
  const now = options.now ?? Date.now
  const leases = new Map<string, Lease>()
  const instances = new Map<string, Map<string, RecordedConnection>>()
  const users = new Map<string, Map<string, string>>()
  const ended = new Map<string, Map<string, number>>()
  const versions = new Map<string, number>()
  const bump = (userId: string, status: UserStatus['status']): StatusChange => {
    // as on Redis: above the last version and the clock, so it keeps growing across restarts
    const version = Math.max((versions.get(userId) ?? 0) + 1, now())
    versions.set(userId, version)
    return { userId, status, version }
  }
  const liveGen = (lease: Lease | undefined) => (lease && lease.until > now() ? lease.gen : undefined)

  return {
    kind: 'embedded',
    async start (instanceId, run, ttlMs, takeover) {
      const lease = leases.get(instanceId)
      if (lease && liveGen(lease) !== undefined && lease.run !== run && lease.renewed !== takeover) return { heldBy: lease.run, renewedAt: lease.renewed }
      const at = now()
      const gen = Math.max((lease?.gen ?? 0) + 1, at)
      leases.set(instanceId, { ...lease, gen, until: at + ttlMs, run, renewed: at })
      return { gen }
    },
    async renew (instanceId, gen, ttlMs) {
      const lease = leases.get(instanceId)
      if (!lease || liveGen(lease) !== gen) return false
      lease.until = now() + ttlMs
      lease.renewed = now()
      return true
    },
    async release (instanceId, gen) {
      const lease = leases.get(instanceId)
      if (lease?.gen === gen) lease.until = 0
    },
    async add (conn) {
      if (liveGen(leases.get(conn.instanceId)) !== conn.gen) return { recorded: false, why: 'lease_lost' }
      if (ended.get(conn.userId)?.has(conn.connectionId)) return { recorded: false, why: 'ended' }
      let held = instances.get(conn.instanceId)
      if (!held) instances.set(conn.instanceId, held = new Map())
      held.set(conn.connectionId, conn)
      let of = users.get(conn.userId)
      if (!of) users.set(conn.userId, of = new Map())
      const first = of.size === 0
      of.set(conn.connectionId, conn.instanceId)
      return { recorded: true, change: first ? bump(conn.userId, 'online') : null }
    },
    async has (instanceId, connectionId) { return instances.get(instanceId)?.has(connectionId) === true },
    async remove (instanceId, connectionId, userId, reaped = false) {
      if (reaped) {
        let gone = ended.get(userId)
        if (!gone) ended.set(userId, gone = new Map())
        for (const [id, at] of gone) if (at + ENDED_TTL_MS <= now()) gone.delete(id)
        gone.set(connectionId, now())
      }
      const of = users.get(userId)
      const wasOnline = of?.delete(connectionId) === true
      let change: StatusChange | null = null
      if (wasOnline && of?.size === 0) { users.delete(userId); change = bump(userId, 'offline') }
      const held = instances.get(instanceId)
      const removed = held?.delete(connectionId) === true
      if (held?.size === 0) instances.delete(instanceId)
      return { removed, change }
    },
    async claim (claimTtlMs, only) {
      for (const instanceId of only === undefined ? new Set([...leases.keys(), ...instances.keys()]) : [only]) {
        const lease = leases.get(instanceId)
        if (lease?.claimUntil !== undefined && lease.claimUntil > now()) continue
        const current = liveGen(lease)
        const connections = [...instances.get(instanceId)?.values() ?? []].filter((c) => c.gen !== current)
        if (connections.length === 0) {
          if (current === undefined && lease) leases.delete(instanceId) // nothing left of it
          continue
        }
        const token = Math.random().toString(36).slice(2)
        const claimed = lease ?? { gen: 0, until: 0, run: '', renewed: 0 }
        leases.set(instanceId, { ...claimed, claim: token, claimUntil: now() + claimTtlMs })
        return { instanceId, token, connections }
      }
      return null
    },
    async extendClaim (claim, claimTtlMs) {
      const lease = leases.get(claim.instanceId)
      if (lease?.claim !== claim.token) return false
      lease.claimUntil = now() + claimTtlMs
      return true
    },
    async finishClaim (claim) {
      const lease = leases.get(claim.instanceId)
      if (lease?.claim === claim.token) { delete lease.claim; delete lease.claimUntil }
    },
    async connectionsOf (instanceId) { return [...instances.get(instanceId)?.values() ?? []] },
    async statuses (userIds) {
      return userIds.map((userId) => ({ userId, status: users.get(userId)?.size ? 'online' : 'offline', version: versions.get(userId) ?? 0 }))
    },
    async list (userId) {
      const out = []
      for (const [connectionId, instanceId] of users.get(userId) ?? []) {
        const conn = instances.get(instanceId)?.get(connectionId)
        if (conn) out.push(live(conn))
      }
      return out.sort(byConnectedAt)
    }
  }
}
