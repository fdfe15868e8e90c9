// Recent messages in process: a map with expiry, for one instance (embedded mode).
import type { RecentMessage, RecentMessageStore } from './recent-messages.ts'

export function createEmbeddedRecentMessages (now: () => number = Date.now): RecentMessageStore {
  // insertion order is expiry order (one TTL for all), so expired entries are swept from the front
  const entries = new Map<string, { value: RecentMessage, until: number }>()
  const sweep = () => {
    const t = now()
    for (const [id, entry] of entries) {
      if (entry.until > t) break
      entries.delete(id)
    }
  }
  const put = (id: string, value: RecentMessage, ttlSeconds: number) => {
    entries.delete(id)
    entries.set(id, { value, until: now() + ttlSeconds * 1000 })
  }
  const current = (id: string) => {
    const entry = entries.get(id)
    return entry && entry.until > now() ? entry.value : undefined
  }
  return {
    kind: 'embedded',
    async posted (message, ttlSeconds) {
      sweep()
      if (current(message.id) === undefined) put(message.id, { state: 'posted', message: { ...message } }, ttlSeconds)
    },
    async deleted (id, ttlSeconds) {
      sweep()
      put(id, { state: 'deleted' }, ttlSeconds)
    },
    async get (id) {
      const value = current(id)
      return value?.state === 'posted' ? { state: 'posted', message: { ...value.message } } : value
    }
  }
}
