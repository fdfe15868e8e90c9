import fp from 'fastify-plugin'

export type ReadinessCheck = () => Promise<void>

/** Named checks that GET /ready runs: each configured dependency adds one. */
export interface Readiness {
  add (name: string, check: ReadinessCheck): void
  run (timeoutMs?: number): Promise<Record<string, { ok: boolean, error?: string }>>
}

declare module 'fastify' {
  interface FastifyInstance { readiness: Readiness }
}

export default fp(async function readiness (app) {
  const checks = new Map<string, ReadinessCheck>()
  app.decorate('readiness', {
    add (name, check) {
      if (checks.has(name)) throw new Error(`readiness check ${name} is registered twice`)
      checks.set(name, check)
    },
    async run (timeoutMs = 2000) {
      const entries = await Promise.all([...checks].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined
        try {
          await Promise.race([
            check(),
            new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs) })
          ])
          return [name, { ok: true }] as const
        } catch (err) {
          return [name, { ok: false, error: (err as Error).message }] as const
        } finally {
          clearTimeout(timer)
        }
      }))
      return Object.fromEntries(entries)
    }
  } satisfies Readiness)

  // Shutting down (app.close(): the listener is closed, requests arriving on open connections get
  // 503): a request that was already in flight is still answered, and its answer closes the
  // connection, so a keep-alive client cannot hold the closing server open.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply) => { if (closing) reply.header('connection', 'close') })
}, { name: 'readiness' })
