// What each benchmark message carries in its content: channel index, per-channel sequence number
// and the send time, so a receiver can account for it exactly and time it on the same host clock.
import { performance } from 'node:perf_hooks'

const PREFIX = 'bench:'
const MARKER = `"content":"${PREFIX}`

/** Microseconds since the epoch, sub-millisecond; consistent across threads and processes of one host. */
export function nowMicros (): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000)
}

/** `bench:<channel>:<seq>:<sentAtMicros>:` padded with `x` to `size` characters. */
export function encodeContent (channel: number, seq: number, sentAt: number, size: number): string {
  const head = `${PREFIX}${channel}:${seq}:${sentAt}:`
  return head.length >= size ? head : head + 'x'.repeat(size - head.length)
}

/** Warm-up content: no stamp, so receivers neither time nor count it. */
export function warmupContent (size: number): string {
  return 'warmup:'.padEnd(size, 'x')
}

export interface Stamp { channel: number, seq: number, sentAt: number }

/** Reads the stamp from a message content; undefined for anything else. */
export function decodeContent (content: string): Stamp | undefined {
  if (!content.startsWith(PREFIX)) return undefined
  return parse(content, PREFIX.length)
}

/**
 * Reads the stamp straight from a protocol v1 event frame without JSON.parse of the whole frame:
 * the receiving side must not become the bottleneck it measures.
 */
export function decodeFrame (frame: string): Stamp | undefined {
  const at = frame.indexOf(MARKER)
  if (at < 0) return undefined
  return parse(frame, at + MARKER.length)
}

/** A position in the messages log, as event and subscribed frames carry it (docs/protocol.md). */
export interface Position { epoch: string, offset: string }

const POSITION = '"position":{'

/** The position of an event frame, read without parsing the whole frame (undefined when it has none). */
export function decodePosition (frame: string): Position | undefined {
  const at = frame.indexOf(POSITION)
  if (at < 0) return undefined
  const end = frame.indexOf('}', at)
  return end < 0 ? undefined : JSON.parse(frame.slice(at + POSITION.length - 1, end + 1)) as Position
}

function parse (text: string, from: number): Stamp | undefined {
  const a = text.indexOf(':', from)
  const b = a < 0 ? -1 : text.indexOf(':', a + 1)
  const c = b < 0 ? -1 : text.indexOf(':', b + 1)
  if (c < 0) return undefined
  const channel = Number(text.slice(from, a))
  const seq = Number(text.slice(a + 1, b))
  const sentAt = Number(text.slice(b + 1, c))
  if (!Number.isInteger(channel) || !Number.isInteger(seq) || !Number.isInteger(sentAt)) return undefined
  return { channel, seq, sentAt }
}

/** What one Centrifugo WebSocket frame held (its JSON protocol puts several replies in one frame, a line each). */
export interface CentrifugoFrame {
  /** replies to our commands, by id: a result or an error */
  replies: Array<{ id: number, error?: { code: number, message: string } }>
  /** stamps of the publications pushed in it */
  stamps: Stamp[]
  /** server pings (`{}`): each must be answered with `{}` */
  pings: number
}

/**
 * Reads a Centrifugo JSON-protocol frame: `{}` pings, `{"id":…}` replies (parsed, they are rare) and
 * `{"push":{"channel":…,"pub":{"data":{…"content":"bench:…"},"offset":…}}}` publications, whose
 * stamp is read from the text as decodeFrame does, without JSON.parse.
 */
export function parseCentrifugoFrame (frame: string): CentrifugoFrame {
  const out: CentrifugoFrame = { replies: [], stamps: [], pings: 0 }
  const lines = frame.includes('\n') ? frame.split('\n') : [frame]
  for (const line of lines) {
    if (line === '{}') out.pings++
    else if (line.startsWith('{"push"')) {
      const stamp = decodeFrame(line)
      if (stamp) out.stamps.push(stamp)
    } else if (line.startsWith('{"id"')) {
      const reply = JSON.parse(line) as { id: number, error?: { code: number, message: string } }
      out.replies.push(reply.error ? { id: reply.id, error: reply.error } : { id: reply.id })
    }
  }
  return out
}
