// AutoMod: every message passes the registered checks before it is accepted (POST and edits).
// The default check is MODERATION_BLOCKLIST; plugin authors add their own with `register`.
import fp from 'fastify-plugin'
import type { ModeratedMessage, ModerationCheck, ModerationVerdict } from './check.ts'
import { blocklistCheck } from './blocklist.ts'

export type * from './check.ts'

export interface Moderation {
  /** Adds a check (or replaces the one with the same name). */
  register (check: ModerationCheck): void
  /** Runs every check in registration order; throws a 422 naming the first rule that refuses. */
  check (message: ModeratedMessage): Promise<void>
  /** The first refusal, or undefined when every check lets the message through. */
  verdict (message: ModeratedMessage): Promise<(ModerationVerdict & { check: string }) | undefined>
}

declare module 'fastify' {
  interface FastifyInstance { moderation: Moderation }
}

export default fp(async function moderation (app) {
  const checks = new Map<string, ModerationCheck>()
  const blocklist = blocklistCheck(app.config.MODERATION_BLOCKLIST)
  if (blocklist) checks.set(blocklist.name, blocklist)

  const moderation: Moderation = {
    register (check) {
      if (typeof check?.check !== 'function' || !check.name) throw new Error('moderation.register needs {name, check(message)}')
      checks.set(check.name, check)
    },
    async verdict (message) {
      for (const { name, check } of checks.values()) {
        const verdict = await check(message)
        if (verdict) return { ...verdict, check: name }
      }
      return undefined
    },
    async check (message) {
      const verdict = await moderation.verdict(message)
      if (!verdict) return
      const error = app.httpErrors.createError(422, `message refused by moderation rule "${verdict.rule}"${verdict.reason ? `: ${verdict.reason}` : ''}`)
      throw Object.assign(error, { rule: verdict.rule })
    }
  }
  app.decorate('moderation', moderation)
}, { name: 'moderation', dependencies: ['errors'] })
