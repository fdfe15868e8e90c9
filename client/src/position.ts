// Stream positions {epoch, offset}: offsets are decimal strings (Kafka offsets do not fit a double).
import type { Position } from './types.ts'

/** Compares decimal offsets without losing precision (as schemas/message.ts compareOffsets). */
export function compareOffsets (a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

/** True when `p` is at or before `last` in the same epoch: an event there was already delivered. */
export function seen (p: Position, last: Position | null): boolean {
  return last !== null && last.epoch === p.epoch && compareOffsets(p.offset, last.offset) <= 0
}

/** The later of two positions; a position of another epoch replaces the old one (its history is gone). */
export function later (a: Position | null, b: Position | null): Position | null {
  if (!a) return b
  if (!b) return a
  if (a.epoch !== b.epoch) return b
  return compareOffsets(b.offset, a.offset) > 0 ? b : a
}
