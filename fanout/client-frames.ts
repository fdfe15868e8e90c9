// Parses and dispatches one client frame. Every failure becomes an `error` frame, never a throw.
import type { Position } from '../schemas/message.ts'
import { clientFrameCheckers, frames, type ClientFrame, type ErrorCode } from './protocol.ts'
import type { Connection } from './types.ts'

type Op = keyof typeof clientFrameCheckers

/** What a client frame may ask of the hub (the hub passes itself; declared here so hub.ts is not imported back). */
export interface FrameTarget {
  readonly maxPayload: number
  send (conn: Connection, frame: string): void
  error (conn: Connection, code: string, message: string): void
  subscribe (conn: Connection, channel: string, since?: Position): Promise<boolean>
  unsubscribe (conn: Connection, channel: string): boolean
}

export function handleClientFrame (hub: FrameTarget, conn: Connection, data: string | ArrayBuffer | Uint8Array, isBinary: boolean): void {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength
  if (size > hub.maxPayload) return hub.error(conn, 'frame_too_large', `frames are limited to ${hub.maxPayload} bytes`)
  if (isBinary) return hub.error(conn, 'bad_frame', 'frames are JSON text, not binary')
  const frame = parse(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer).toString('utf8'))
  if ('error' in frame) return hub.error(conn, frame.error, frame.message)
  const msg = frame.value
  switch (msg.op) {
    case 'ping': return hub.send(conn, frames.pong())
    case 'subscribe': void hub.subscribe(conn, msg.channel, msg.since); return
    case 'unsubscribe':
      if (!hub.unsubscribe(conn, msg.channel)) hub.error(conn, 'not_subscribed', `not subscribed to ${msg.channel}`)
  }
}

function parse (text: string): { value: ClientFrame } | { error: ErrorCode, message: string } {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { error: 'bad_json', message: 'frame is not valid JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { op?: unknown }).op !== 'string') {
    return { error: 'bad_frame', message: 'frame must be a JSON object with a string "op"' }
  }
  const op = (value as { op: string }).op
  if (!Object.hasOwn(clientFrameCheckers, op)) return { error: 'unknown_op', message: `unknown op ${JSON.stringify(op.slice(0, 32))}` }
  const checker = clientFrameCheckers[op as Op]
  if (checker.Check(value)) return { value: value as ClientFrame }
  const first = checker.Errors(value).First()
  const path = first?.path ?? ''
  if (path === '/channel') return { error: 'bad_channel', message: `channel: ${first?.message}` }
  return { error: 'bad_frame', message: `${op}: ${path || 'frame'} ${first?.message ?? 'is invalid'}` }
}
