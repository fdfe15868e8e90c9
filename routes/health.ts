import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'

const Checks = Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()) }))

const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', {
    schema: { tags: ['operations'], summary: 'The process is alive', response: { 200: Type.Object({ status: Type.Literal('ok') }) } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    schema: {
      tags: ['operations'],
      summary: 'Every configured dependency is reachable (503 names the ones that are not)',
      response: { 200: Type.Object({ status: Type.Literal('ready'), checks: Checks }), 503: Type.Object({ status: Type.Literal('unavailable'), checks: Checks }) }
    }
  }, async (request, reply) => {
    const checks = await app.readiness.run()
    const failed = Object.entries(checks).filter(([, c]) => !c.ok)
    if (failed.length === 0) return { status: 'ready' as const, checks }
    request.log.warn({ failed: failed.map(([name, c]) => `${name}: ${c.error}`) }, 'not ready')
    return reply.code(503).send({ status: 'unavailable' as const, checks })
  })
}

export default health
