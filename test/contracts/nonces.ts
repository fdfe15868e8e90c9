// The nonce store contract, run against every implementation (embedded and Redis).
import type { Test } from 'tap'
import type { NonceStore } from '../../plugins/nonces/index.ts'

export function nonceStoreContract (t: Test, make: () => Promise<NonceStore>, unique: () => string) {
  t.test('a free key is claimed once; then it is pending, then done with its value', async (t) => {
    const store = await make()
    const key = unique()
    t.same(await store.peek(key), { state: 'free' })
    t.same(await store.claim(key, 30), { state: 'claimed' })
    t.same(await store.claim(key, 30), { state: 'pending' }, 'a second claim sees the first in flight')
    t.same(await store.peek(key), { state: 'pending' })
    await store.settle(key, 'message-1', 600)
    t.same(await store.claim(key, 30), { state: 'done', value: 'message-1' }, 'a repeat gets the first result')
    t.same(await store.peek(key), { state: 'done', value: 'message-1' })
  })

  t.test('concurrent claims of one key: exactly one is claimed', async (t) => {
    const store = await make()
    const key = unique()
    const states = await Promise.all(Array.from({ length: 8 }, () => store.claim(key, 30)))
    t.equal(states.filter((s) => s.state === 'claimed').length, 1)
    t.equal(states.filter((s) => s.state === 'pending').length, 7)
  })

  t.test('a released key is free again and can be claimed by a retry', async (t) => {
    const store = await make()
    const key = unique()
    await store.claim(key, 30)
    await store.release(key)
    t.same(await store.peek(key), { state: 'free' })
    t.same(await store.claim(key, 30), { state: 'claimed' })
  })

  t.test('keys are independent, and values are kept as given', async (t) => {
    const store = await make()
    const [a, b] = [unique(), unique()]
    await store.claim(a, 30)
    t.same(await store.claim(b, 30), { state: 'claimed' })
    const value = JSON.stringify({ id: 'x', content: 'ü \u0000 "quoted"' })
    await store.settle(b, value, 600)
    t.same(await store.peek(b), { state: 'done', value })
    t.same(await store.peek(a), { state: 'pending' })
  })
}
