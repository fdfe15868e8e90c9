// The connection registry in process: one instance (or apps in one test process sharing it).
import type { UserStatus } from '../../schemas/connections.ts'
import type { ConnectionRegistry, LiveConnection, RegistryOptions, StatusChange } from './registry.ts'

export function createEmbeddedRegistry (options: RegistryOptions = {}): ConnectionRegistry {
  const now = options.now ?? Date.now
  const leases = new Map<string, number>()
  const claims = new Map<string, number>()
  const instances = new Map<string, Map<string, LiveConnection>>()
  const users = new Map<string, Map<string, string>>()
  const versions = new Map<string, number>()
  const bump = (userId: string, status: UserStatus['status']): StatusChange => {
    // as on Redis: above the last version and the clock, so it keeps growing across restarts
    const version = Math.max((versions.get(userId) ?? 0) + 1, now())
    versions.set(userId, version)
    return { userId, status, version }
  }
  const lapsed = (from: Map<string, number>) => {
    const at = now()
    for (const [id, expiry] of from) if (expiry <= at) return id
  }

  return {
    kind: 'embedded',
    async renew (instanceId, ttlMs, first = false) {
      if (!first && !leases.has(instanceId)) return false
      leases.set(instanceId, now() + ttlMs)
      return true
    },
    async release (instanceId) { leases.delete(instanceId) },
    async add (conn) {
      let held = instances.get(conn.instanceId)
      if (!held) instances.set(conn.instanceId, held = new Map())
      held.set(conn.connectionId, conn)
      let of = users.get(conn.userId)
      if (!of) users.set(conn.userId, of = new Map())
      const first = of.size === 0
      of.set(conn.connectionId, conn.instanceId)
      return first ? bump(conn.userId, 'online') : null
    },
    async has (instanceId, connectionId) { return instances.get(instanceId)?.has(connectionId) === true },
    async remove (instanceId, connectionId, userId) {
      const held = instances.get(instanceId)
      if (!held?.delete(connectionId)) return { removed: false, change: null }
      if (held.size === 0) instances.delete(instanceId)
      const of = users.get(userId)
      of?.delete(connectionId)
      if (of && of.size > 0) return { removed: true, change: null }
      users.delete(userId)
      return { removed: true, change: bump(userId, 'offline') }
    },
    async claimLapsed (claimTtlMs) {
      const instanceId = lapsed(leases) ?? lapsed(claims)
      if (instanceId === undefined) return null
      leases.delete(instanceId)
      claims.set(instanceId, now() + claimTtlMs)
      return { instanceId, connections: [...instances.get(instanceId)?.values() ?? []] }
    },
    async finishClaim (instanceId) { if (!instances.get(instanceId)?.size) claims.delete(instanceId) },
    async connectionsOf (instanceId) { return [...instances.get(instanceId)?.values() ?? []] },
    async statuses (userIds) {
      return userIds.map((userId) => ({ userId, status: users.get(userId)?.size ? 'online' : 'offline', version: versions.get(userId) ?? 0 }))
    },
    async list (userId) {
      const out: LiveConnection[] = []
      for (const [connectionId, instanceId] of users.get(userId) ?? []) {
        const conn = instances.get(instanceId)?.get(connectionId)
        if (conn) out.push(conn)
      }
      return out.sort((a, b) => (a.connectedAt < b.connectedAt ? -1 : a.connectedAt > b.connectedAt ? 1 : 0))
    }
  }
}
