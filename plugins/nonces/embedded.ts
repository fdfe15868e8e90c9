// In-process nonce store: a map with expiry, for one instance (embedded mode).
import type { NonceState, NonceStore } from './nonces.ts'

const PENDING = Symbol('pending')

export function createEmbeddedNonceStore (now: () => number = Date.now): NonceStore {
  // insertion order is expiry order (one TTL for all), so expired entries are swept from the front
  const entries = new Map<string, { value: string | typeof PENDING, until: number }>()
  const sweep = () => {
    const t = now()
    for (const [key, entry] of entries) {
      if (entry.until > t) break
      entries.delete(key)
    }
  }
  const state = (key: string): NonceState => {
    const entry = entries.get(key)
    if (!entry || entry.until <= now()) return { state: 'free' }
    return entry.value === PENDING ? { state: 'pending' } : { state: 'done', value: entry.value }
  }
  const put = (key: string, value: string | typeof PENDING, ttlSeconds: number) => {
    entries.delete(key)
    entries.set(key, { value, until: now() + ttlSeconds * 1000 })
  }
  return {
    kind: 'embedded',
    async claim (key, ttlSeconds) {
      sweep()
      const current = state(key)
      if (current.state !== 'free') return current
      put(key, PENDING, ttlSeconds)
      return { state: 'claimed' }
    },
    async peek (key) { return state(key) },
    async settle (key, value, ttlSeconds) { put(key, value, ttlSeconds) },
    async release (key) { entries.delete(key) }
  }
}
