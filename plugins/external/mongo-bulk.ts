// Bulk writes in chunks. FerretDB on PostgreSQL (development, CI) holds one PostgreSQL connection
// per statement that matches an existing document until the whole command ends, and commands that
// together want more than its pool hang for good (and the store with them: docs/known-limits.md).
// A consumer catching up (a replay after a rebalance) writes batches of thousands, all matching, so
// every bulk write of the product goes through here in commands of at most MONGO_BULK_MAX
// statements. On MongoDB a chunk costs one round trip: a steady-state batch fits in one, only
// catch-up batches are split.

/**
 * Writes `items` as sequential commands of at most `max` each, the next one only once the previous
 * one has ended (never all at once: they would hold as many connections as one command). The first
 * failing chunk's error is thrown and the rest is not written, as an ordered bulk write stops at its
 * first error; an unordered write whose chunk fails is retried whole by its caller, so it may stop too.
 */
export async function writeInChunks<T> (items: readonly T[], max: number, write: (chunk: T[]) => Promise<unknown>): Promise<void> {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`bulk chunk size must be a positive integer, not ${max}`)
  for (let start = 0; start < items.length; start += max) {
    await write(items.slice(start, start + max))
  }
}
