// Helpers for the tests of edits, deletions, reactions and mentions (embedded and real services).
import type { FastifyInstance } from 'fastify'
import { handled } from './helper.ts'
import type { Position } from '../schemas/message.ts'

export interface Produced { topic: string, key: string, value: string, position: Position }

/** Records every record the app produces from now on (the write path and handlers alike). */
export function recordProduced (app: FastifyInstance): Produced[] {
  const produced: Produced[] = []
  const produce = app.bus.produce.bind(app.bus)
  app.bus.produce = async (topic, key, value) => {
    const result = await produce(topic, key, value)
    produced.push({ topic, key, value: value.toString(), position: { epoch: result.epoch, offset: result.offset } })
    return result
  }
  return produced
}

/** The last record produced to `topic`. */
export function lastRecord (produced: Produced[], topic: string): Produced {
  const found = produced.filter((p) => p.topic === topic).pop()
  if (!found) throw new Error(`nothing was produced to ${topic}`)
  return found
}

/** The position of the last record produced to `topic`. */
export const lastOn = (produced: Produced[], topic: string): Position => lastRecord(produced, topic).position

export const as = (user: string) => ({ 'x-user-id': user })

/** Waits until every named handler has handled the record at `position`. */
export function handledBy (app: FastifyInstance, handlers: string[], position: Position) {
  return Promise.all(handlers.map((h) => handled(app, h, position)))
}

export const MESSAGE_HANDLERS = ['messages-store', 'messages-cache']

/** Posts a message as `user` and waits until it is stored and cached (then it can be edited). */
export async function post (app: FastifyInstance, channelId: string, content: string, user = 'alice') {
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: as(user), payload: { channelId, content } })
  if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  const message = res.json()
  await handledBy(app, MESSAGE_HANDLERS, message.position)
  return message
}
