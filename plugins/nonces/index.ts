// Idempotent writes: the same nonce from the same sender within NONCE_TTL_SECONDS runs the work once
// and every repeat gets the first result, across instances when Redis is configured.
import { createHash } from 'node:crypto'
import { setTimeout as wait } from 'node:timers/promises'
import fp from 'fastify-plugin'
import type { NonceStore } from './nonces.ts'
import { createEmbeddedNonceStore } from './embedded.ts'
import { createRedisNonceStore } from './redis.ts'

export type * from './nonces.ts'

/** How long a nonce is remembered: the window in which a retry returns the first message. */
export const NONCE_TTL_SECONDS = 600
/**
 * How long a claim holds while its request is in flight: well past a produce's deadline, short
 * enough that a claim left by a crashed instance frees the nonce soon (settle keeps it 600 s).
 */
const CLAIM_TTL_SECONDS = 30
/** How long a repeat waits for the first request (still in flight) before giving up with 409. */
const WAIT_MS = 5000

export interface Nonces {
  readonly store: NonceStore
  /**
   * Runs `work` unless this sender already used this nonce: then resolves with the first result
   * (`replayed: true`), waiting for it while the first request is in flight.
   */
  once (sender: string, nonce: string, work: () => Promise<string>): Promise<{ value: string, replayed: boolean }>
}

declare module 'fastify' {
  interface FastifyInstance { nonces: Nonces }
}

export default fp<{ store?: NonceStore }>(async function nonces (app, opts) {
  const store = opts.store ?? (app.redis ? createRedisNonceStore(app.redis) : createEmbeddedNonceStore())

  async function once (sender: string, nonce: string, work: () => Promise<string>) {
    // hashed, so no sender or nonce text can collide with another pair or shape the key
    const key = `nonce:${createHash('sha256').update(JSON.stringify([sender, nonce])).digest('hex')}`
    const deadline = Date.now() + WAIT_MS
    let pause = 5
    let current = await store.claim(key, CLAIM_TTL_SECONDS)
    while (current.state !== 'claimed') {
      if (current.state === 'done') return { value: current.value, replayed: true }
      if (Date.now() > deadline) throw app.httpErrors.conflict(`a request with nonce ${JSON.stringify(nonce)} is still in progress; retry`)
      if (current.state === 'pending') {
        // The first request is producing; it settles within a produce round trip.
        await wait(pause)
        pause = Math.min(pause * 2, 200)
        current = await store.peek(key)
      }
      if (current.state === 'free') current = await store.claim(key, CLAIM_TTL_SECONDS)
    }
    let value: string
    try {
      value = await work()
    } catch (err) {
      await store.release(key).catch((e) => app.log.warn({ err: e }, 'could not release a nonce'))
      throw err
    }
    await store.settle(key, value, NONCE_TTL_SECONDS).catch((err) => app.log.error({ err }, 'could not record a nonce result; a retry may post twice'))
    return { value, replayed: false }
  }

  app.decorate('nonces', { store, once } satisfies Nonces)
}, { name: 'nonces', dependencies: ['redis', 'errors'] })
