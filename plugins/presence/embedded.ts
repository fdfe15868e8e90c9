// Presence in process: channel → user → {name, connection → expiry}. Expired entries are pruned
// whenever the channel is touched. Share one instance between apps to model several instances.
import type { PresenceOptions, PresenceStore } from './presence.ts'

interface UserEntry { name?: string, connections: Map<string, number> }

export function createEmbeddedPresence (options: PresenceOptions): PresenceStore {
  const now = options.now ?? Date.now
  const ttlMs = options.ttlSeconds * 1000
  const channels = new Map<string, Map<string, UserEntry>>()

  /** Drops expired connections of one user; true when some connection is still live. */
  function live (user: UserEntry, at: number): boolean {
    for (const [id, expiry] of user.connections) if (expiry <= at) user.connections.delete(id)
    return user.connections.size > 0
  }

  return {
    kind: 'embedded',
    async join ({ channel, userId, connectionId }, name) {
      const at = now()
      let users = channels.get(channel)
      if (!users) channels.set(channel, users = new Map())
      let user = users.get(userId)
      if (!user) users.set(userId, user = { connections: new Map() })
      const wasPresent = live(user, at)
      user.connections.set(connectionId, at + ttlMs)
      if (name !== undefined) user.name = name
      return !wasPresent
    },
    async leave ({ channel, userId, connectionId }) {
      const users = channels.get(channel)
      const user = users?.get(userId)
      if (!users || !user) return false
      user.connections.delete(connectionId)
      if (live(user, now())) return false
      users.delete(userId)
      if (users.size === 0) channels.delete(channel)
      return true
    },
    async refresh (members) {
      const at = now()
      for (const { channel, userId, connectionId } of members) {
        const connections = channels.get(channel)?.get(userId)?.connections
        const expiry = connections?.get(connectionId)
        if (connections && expiry !== undefined && expiry > at) connections.set(connectionId, at + ttlMs)
      }
    },
    async list (channel) {
      const at = now()
      const present = []
      for (const [userId, user] of channels.get(channel) ?? []) {
        if (live(user, at)) present.push(user.name === undefined ? { userId } : { userId, name: user.name })
      }
      return present.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
    }
  }
}
