// Read state on MongoDB, in the app's one database: `read_markers` (one document per user and
// channel), `read_index` (one slim document per message, with its sequence number),
// `read_channels` (one counter per channel), `read_mentions` (one list per user and channel
// mentioned) and `read_settings` (one per user who changed a setting). A count reads documents by
// `_id` lists only (plugins/read-state/counts.ts); offsets are stored as numbers so that the
// fallback count is an index range.
import type { FastifyBaseLogger } from 'fastify'
import { MongoBulkWriteError, MongoServerError, type AnyBulkWriteOperation, type Collection, type Db, type Filter } from 'mongodb'
import type { Position } from '../../schemas/message.ts'
import { TransientError } from '../external/errors.ts'
import { mongoCall } from '../external/mongo.ts'
import type { BatchSpan, Counts, IndexChange, Marker, MarkerRef, ReadStateStore } from './store.ts'
import { deletedIds, fold, mentionKey, mentionKeys, type ChannelCounter, type IndexEntry, type MentionList } from './sequence.ts'
import { countsAt, refOf, seqOf } from './counts.ts'
import type { CounterMirror } from './counter-mirror.ts'

interface Place { epoch: string, offset: number }
interface MarkerDoc { userId: string, channelId: string, messageId: string | null, position: Place | null, readAt: string, applied?: Place, implicit?: boolean, seq?: number, ref?: MarkerRef }
/** `seq` is absent on documents indexed before sequence numbers (they are counted the old way). */
interface IndexDoc { _id: string, channelId: string, senderId: string, epoch: string, offset: number, seq?: number, mentions?: string[], parentId?: string, deleted?: boolean }
interface CounterDoc { _id: string, epoch: string, seq: number, last: number, head: { messageId: string, offset: number } | null, deleted: number[] }
/** `userId` repeats the _id's first part: the unread request reads a user's lists by that equality (FerretDB passes no `$in` to PostgreSQL). */
interface MentionsDoc { _id: string, userId: string, epoch: string, last: number, offsets: number[] }
interface SettingsDoc { _id: string, receipts: boolean }

const DUPLICATE_KEY = 11000
/** How many channels' counters the index handler keeps in memory (about 1 KB each at most). */
export const KEPT_COUNTERS = 10_000
/**
 * Statements per bulk write: FerretDB 1.x (the dev store) holds a PostgreSQL connection for each
 * statement that matches a document until the command ends, and hangs for good once its pool runs
 * out (about 50): a replayed batch of 60 messages was enough. Sent in chunks, one after another.
 */
export const BULK_CHUNK = 16
const place = (p: Position): Place => ({ epoch: p.epoch, offset: Number(p.offset) })
const position = (p: Place | null): Position | null => p && { epoch: p.epoch, offset: String(p.offset) }
// `?? null`: FerretDB 1.x leaves out the null fields of a `$setOnInsert`
const toMarker = (d: MarkerDoc): Marker => ({ userId: d.userId, channelId: d.channelId, messageId: d.messageId ?? null, position: position(d.position ?? null), readAt: d.readAt, ...(d.implicit ? { implicit: true } : {}), ...(d.seq !== undefined && d.seq !== null ? { seq: d.seq } : {}), ...(d.ref ? { ref: d.ref } : {}) })
const toEntry = (d: IndexDoc): IndexEntry => ({ id: d._id, channelId: d.channelId, senderId: d.senderId, epoch: d.epoch, offset: d.offset, ...(typeof d.seq === 'number' ? { seq: d.seq } : {}), mentions: d.mentions ?? [], ...(d.parentId !== undefined ? { parentId: d.parentId } : {}), ...(d.deleted ? { deleted: true } : {}) })
const toCounter = (d: CounterDoc): ChannelCounter => ({ channelId: d._id, epoch: d.epoch, seq: d.seq, last: d.last, head: d.head ?? null, deleted: d.deleted ?? [] })
const toList = (d: MentionsDoc): MentionList => { const [userId, channelId] = d._id.split('\n'); return { userId, channelId, epoch: d.epoch, last: d.last, offsets: d.offsets ?? [] } }
/** A guarded `$set` upsert: it takes effect only on a document that has not taken `last` (or is of another epoch); otherwise the insert it falls back to is refused (a duplicate key: nothing to do). */
const guarded = <T extends { _id: string }>(doc: T & { epoch: string, last: number }) => ({
  updateOne: { filter: { _id: doc._id, $or: [{ epoch: { $ne: doc.epoch } }, { last: { $lt: doc.last } }] } as unknown as Filter<T>, update: { $set: doc }, upsert: true }
})
/** Documents whose `field` is not at or after `p` (absent, null, another epoch, or lower). */
const below = (field: string, p: Place) => ({ $or: [{ [`${field}.epoch`]: { $ne: p.epoch } }, { [`${field}.offset`]: { $lt: p.offset } }] })

/**
 * `unreadMax`: UNREAD_MAX, how many mentions each list keeps beyond it (one more, to tell "more").
 * `mirror`: the counters mirrored in Redis (counter-mirror.ts), written after the store and read first.
 */
export function createMongoReadState (db: Db, { logger, unreadMax = 999, mirror }: { logger: FastifyBaseLogger, unreadMax?: number, mirror?: CounterMirror }): ReadStateStore {
  const markers: Collection<MarkerDoc> = db.collection<MarkerDoc>('read_markers')
  const index: Collection<IndexDoc> = db.collection<IndexDoc>('read_index')
  const settings: Collection<SettingsDoc> = db.collection<SettingsDoc>('read_settings')
  const counters: Collection<CounterDoc> = db.collection<CounterDoc>('read_channels')
  const mentionLists: Collection<MentionsDoc> = db.collection<MentionsDoc>('read_mentions')
  let closed = false
  let indexes: Promise<unknown> | undefined
  // The counters as this process last folded them, and per epoch the offset its next batch starts
  // at while nothing came between: one owner per partition, so a batch that follows the last one
  // finds its channels' counters here and reads only the others. A counter is a pure fold of its
  // channel's stream, so what is kept is right whatever the store holds (a late writer's guarded
  // write is refused or says the same). A gap (another owner took a stretch, a dead letter, a
  // failed batch) drops that epoch's counters: they are read again.
  const kept = new Map<string, ChannelCounter>()
  const nextOffset = new Map<string, number>()
  function ensureIndexes () {
    indexes ??= Promise.all([
      markers.createIndex({ userId: 1, channelId: 1 }, { unique: true, name: 'user_channel' }),
      markers.createIndex({ channelId: 1, 'position.epoch': 1, 'position.offset': 1 }, { name: 'channel_readers' }),
      // unread: a range after the marker within one channel; mentions: the same per mentioned user
      // the fallback count (markers that cannot be numbered): a range after the marker within one channel
      index.createIndex({ channelId: 1, epoch: 1, offset: 1 }, { name: 'channel_position' }),
      index.createIndex({ mentions: 1, channelId: 1, epoch: 1, offset: 1 }, { name: 'mentions_position', sparse: true }),
      mentionLists.createIndex({ userId: 1 }, { name: 'user' }).then(backfillMentionUsers)
    ])
    indexes.catch(() => { indexes = undefined }) // tried again by the next operation
    return indexes
  }
  /** Lists written before they carried `userId` get it, once per process (a scan, then writes by _id). */
  async function backfillMentionUsers () {
    const old = await mentionLists.find({ userId: { $exists: false } }, { projection: { _id: 1 } }).toArray()
    for (let i = 0; i < old.length; i += BULK_CHUNK) {
      await mentionLists.bulkWrite(old.slice(i, i + BULK_CHUNK).map((d) => ({ updateOne: { filter: { _id: d._id }, update: { $set: { userId: d._id.split('\n')[0] } } } })))
    }
  }
  async function run<T> (what: string, op: () => Promise<T>): Promise<T> {
    if (closed) throw new Error('read-state store is closed')
    try {
      return await mongoCall(db, what, async () => { await ensureIndexes(); return await op() })
    } catch (err) {
      // a duplicate key is an answer, not a failure: a marker that did not move (see mark), a default already there
      if (!(err instanceof TransientError) && !onlyDuplicates(err)) logger.error({ err }, `MongoDB read state ${what} failed`)
      throw err
    }
  }
  async function receiptsOff (userIds: string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set()
    const docs = await run('settings', () => settings.find({ _id: { $in: userIds }, receipts: false }).toArray())
    return new Set(docs.map((d) => d._id))
  }
  const duplicate = (err: unknown) => err instanceof MongoServerError && err.code === DUPLICATE_KEY
  const onlyDuplicates = (err: unknown) => err instanceof MongoBulkWriteError ? [err.writeErrors].flat().every((e) => e.code === DUPLICATE_KEY) : duplicate(err)

  const unlessDuplicates = (err: unknown) => { if (!onlyDuplicates(err)) throw err }
  /** A bulk write in chunks of BULK_CHUNK; `duplicates: 'ignore'`: an upsert refused by a unique index is an answer (nothing to do). */
  async function bulk<T extends object> (what: string, collection: Collection<T>, ops: AnyBulkWriteOperation<T>[], { ordered, duplicates }: { ordered: boolean, duplicates?: 'ignore' }) {
    for (let i = 0; i < ops.length; i += BULK_CHUNK) {
      const chunk = ops.slice(i, i + BULK_CHUNK)
      const write = run(what, () => collection.bulkWrite(chunk, { ordered }))
      await (duplicates === 'ignore' ? write.catch(unlessDuplicates) : write)
    }
  }
  async function ensure (list: Marker[]) {
    if (list.length === 0) return
    // two upserts of one new marker at once: the loser's insert is refused, the marker exists
    await bulk('ensure', markers, list.map((m) => ({
      updateOne: {
        filter: { userId: m.userId, channelId: m.channelId },
        update: { $setOnInsert: { userId: m.userId, channelId: m.channelId, messageId: m.messageId, position: m.position && place(m.position), readAt: m.readAt, implicit: true, ...(m.seq !== undefined ? { seq: m.seq } : {}) } },
        upsert: true
      }
    })), { ordered: false, duplicates: 'ignore' })
  }
  /** The fallback: a range count after the marker, bounded by the cap (plus own and deleted messages in the range). */
  async function count (channelId: string, userId: string, after: Position | null, max: number): Promise<Counts> {
    const range = after ? { channelId, epoch: after.epoch, offset: { $gt: Number(after.offset) } } : { channelId }
    const [unread, mentions] = await Promise.all([
      run('count', () => index.countDocuments({ ...range, senderId: { $ne: userId }, deleted: { $ne: true }, parentId: { $exists: false } }, { limit: max + 1 })),
      run('count', () => index.countDocuments({ mentions: userId, ...range, deleted: { $ne: true } }, { limit: max + 1 }))
    ])
    return { unread, mentions }
  }

  /** A message's index entry, by its _id alone (an equality FerretDB passes to PostgreSQL). */
  async function entryOf (messageId: string): Promise<IndexEntry | undefined> {
    const d = await run('entry', () => index.findOne({ _id: messageId }, { projection: { channelId: 1, senderId: 1, epoch: 1, offset: 1, seq: 1, parentId: 1 } }))
    return d ? toEntry(d) : undefined
  }

  /**
   * The epochs whose counters `kept` may answer for: those the batch follows on from with nothing
   * between. The counters of any other epoch the batch touches are dropped first.
   */
  function keptFor (span: BatchSpan[] | undefined): Set<string> {
    const follows = new Set<string>()
    if (!span) { kept.clear(); return follows }
    for (const { epoch, first } of span) {
      if (nextOffset.get(epoch) === first) follows.add(epoch)
      else for (const [channelId, c] of kept) if (c.epoch === epoch) kept.delete(channelId)
    }
    return follows
  }

  async function indexBatch (changes: IndexChange[], follows: Set<string>) {
    if (changes.length === 0) return
    const channelIds = [...new Set(changes.map((c) => c.type === 'create' ? c.message.channelId : c.channelId))]
    const epochOf = new Map(changes.map((c) => [c.type === 'create' ? c.message.channelId : c.channelId, c.type === 'create' ? c.message.position.epoch : c.position.epoch]))
    // a kept counter answers only within an epoch this batch follows on (one channel is in one
    // partition), and only if it is of that epoch: one of an older epoch (the topic re-created)
    // says nothing of what another instance may have counted in the new one before this one came
    const stored = new Map<string, ChannelCounter>()
    for (const channelId of channelIds) {
      const c = kept.get(channelId)
      const epoch = epochOf.get(channelId)!
      if (c && c.epoch === epoch && follows.has(epoch)) stored.set(channelId, c)
    }
    const reading = channelIds.filter((id) => !stored.has(id))
    const deleting = deletedIds(changes)
    const [counterDocs, deletedDocs] = await Promise.all([
      reading.length ? run('index', () => counters.find({ _id: { $in: reading } }).toArray()) : [],
      deleting.length ? run('index', () => index.find({ _id: { $in: deleting } }).toArray()) : []
    ])
    for (const d of counterDocs) stored.set(d._id, toCounter(d))
    const known = new Map(deletedDocs.map((d) => [d._id, toEntry(d)]))
    const keys = mentionKeys(changes, known)
    const listDocs = keys.length ? await run('index', () => mentionLists.find({ _id: { $in: keys } }).toArray()) : []
    const folded = fold(changes, {
      counters: stored,
      known,
      mentions: new Map(listDocs.map((d) => [d._id, toList(d)])),
      keep: unreadMax + 1
    })
    // in this order, the counters last: a crash before them replays the batch, which comes to the same writes
    // once: an entry already stored (or its deletion) is left as it is (a duplicate key). One
    // insert command: inserts hold no FerretDB connection per document, as matching updates do.
    const entries: IndexDoc[] = folded.entries.map((e) => ({ _id: e.id, channelId: e.channelId, senderId: e.senderId, epoch: e.epoch, offset: e.offset, seq: e.seq, ...(e.mentions.length ? { mentions: e.mentions } : {}), ...(e.parentId !== undefined ? { parentId: e.parentId } : {}) }))
    if (entries.length) {
      await run('index', () => index.insertMany(entries, { ordered: false })).catch((err: unknown) => {
        // only duplicates, and at least one: a bulk error without write errors failed as a whole
        const errors = err instanceof MongoBulkWriteError ? [err.writeErrors].flat() : []
        if (errors.length === 0 || !errors.every((e) => e.code === DUPLICATE_KEY)) throw err
      })
    }
    // after the creates: a batch may create a message and delete it
    await bulk('index', index, folded.deletions.map((id) => ({ updateOne: { filter: { _id: id }, update: { $set: { deleted: true } } } })), { ordered: true })
    await bulk('index', mentionLists, folded.mentions.map((l) => guarded<MentionsDoc>({ _id: mentionKey(l.userId, l.channelId), userId: l.userId, epoch: l.epoch, last: l.last, offsets: l.offsets })), { ordered: false, duplicates: 'ignore' })
    await ensure(folded.defaults)
    // forward only: a marker already at or after the post makes the upsert try an insert, refused;
    // one at the post itself that has no number yet (set on it before it was indexed) gets it
    await bulk('index', markers, folded.forwards.map((m) => ({
      updateOne: {
        filter: { userId: m.userId, channelId: m.channelId, $or: [...below('position', place(m.position!)).$or, { 'position.epoch': m.position!.epoch, 'position.offset': Number(m.position!.offset), seq: { $exists: false } }] },
        update: { $set: { messageId: m.messageId, position: place(m.position!), readAt: m.readAt, seq: m.seq }, $unset: { ref: '' }, $setOnInsert: { implicit: true } },
        upsert: true
      }
    })), { ordered: false, duplicates: 'ignore' })
    await bulk('index', counters, folded.counters.map((c) => guarded<CounterDoc>({ _id: c.channelId, epoch: c.epoch, seq: c.seq, last: c.last, head: c.head, deleted: c.deleted })), { ordered: false, duplicates: 'ignore' })
    // every counter the batch touched, changed or not: a retry after a failed mirror write finds
    // the store's counters already at the batch's end (nothing changes) and must still write them
    const final = new Map(stored)
    for (const c of folded.counters) final.set(c.channelId, c)
    await mirror?.write([...final.values()])
    // what the store now holds, or (a guarded write refused) what it holds further on
    for (const c of stored.values()) keep(c)
    for (const c of folded.counters) keep(c)
  }
  /** Kept newest last; past KEPT_COUNTERS the longest unused go (read again when their channel is next seen). */
  function keep (c: ChannelCounter) {
    kept.delete(c.channelId)
    kept.set(c.channelId, c)
    for (const channelId of kept.keys()) {
      if (kept.size <= KEPT_COUNTERS) break
      kept.delete(channelId)
    }
  }

  /** The channels' counters: from the mirror, and from the store for those it lacks (or all, when Redis fails). */
  async function counterOf (channelIds: string[]): Promise<Map<string, ChannelCounter>> {
    const found = mirror
      ? await mirror.read(channelIds).catch((err: unknown) => { logger.warn({ err }, 'unread counters: the Redis mirror failed, read from MongoDB'); return new Map<string, ChannelCounter>() })
      : new Map<string, ChannelCounter>()
    const missing = channelIds.filter((id) => !found.has(id))
    if (missing.length > 0) {
      for (const d of await run('unread', () => counters.find({ _id: { $in: missing } }).toArray())) found.set(d._id, toCounter(d))
    }
    return found
  }

  return {
    kind: 'mongo',
    async mark (changes) {
      // One conditional upsert per change, side by side. A stored marker the condition excludes
      // (a replay, or not further on) makes the upsert try an insert, which the unique index refuses:
      // nothing moved.
      const moved = await Promise.all(changes.map(async (change) => {
        const applied = place(change.applied)
        const conditions: Filter<MarkerDoc>[] = [below('applied', applied)]
        if (change.mode === 'forward' && change.position) conditions.push(below('position', place(change.position)))
        // Its number, from its message's index entry, so that counting reads no entry: one lookup
        // by _id per marker written (coalesced per batch). Not indexed yet: counting reads it by `ref`.
        const entry = change.ref && change.position ? await entryOf(change.ref.messageId) : undefined
        const seq = change.ref && entry && entry.epoch === change.position?.epoch ? seqOf(change.ref, entry) : undefined
        const doc: MarkerDoc = { userId: change.userId, channelId: change.channelId, messageId: change.messageId, position: change.position && place(change.position), readAt: change.readAt, applied, ...(seq !== undefined ? { seq } : change.ref ? { ref: change.ref } : {}) }
        try {
          const result = await run('mark', () => markers.updateOne(
            { userId: change.userId, channelId: change.channelId, $and: conditions },
            { $set: doc, $unset: { implicit: '', ...(seq !== undefined ? { ref: '' } : { seq: '' }), ...(change.ref ? {} : { ref: '' }) } },
            { upsert: true }
          ))
          if (result.modifiedCount + result.upsertedCount > 0) return toMarker(doc)
        } catch (err) {
          if (!duplicate(err)) throw err
        }
        // not moved: unless this very record is the one it last took (a retried batch)
        const same = await run('mark', () => markers.findOne({ userId: change.userId, channelId: change.channelId, applied: { $eq: applied } }))
        return same && toMarker(same)
      }))
      return moved.filter((m) => m !== null)
    },
    ensure,
    async markers (userId) {
      return (await run('markers', () => markers.find({ userId }).toArray())).map(toMarker)
    },
    async index (changes, span) {
      const follows = keptFor(span)
      try {
        await indexBatch(changes, follows)
      } catch (err) {
        for (const s of span ?? []) nextOffset.delete(s.epoch)
        throw err
      }
      for (const s of span ?? []) nextOffset.set(s.epoch, s.last + 1)
    },
    async head (channelId) {
      const counter = await run('head', () => counters.findOne({ _id: channelId }))
      // No counter: no message since sequence numbers (a new channel, or one quiet since the
      // upgrade). Its index is not searched: a first subscribe to a new channel would scan it
      // (FerretDB reads every entry for a sort), and a subscribe of every socket asks.
      return counter?.head ? { messageId: counter.head.messageId, position: { epoch: counter.epoch, offset: String(counter.head.offset) }, seq: counter.seq } : null
    },
    async unread (userId, list, max) {
      if (list.length === 0) return new Map()
      const channelIds = [...new Set(list.map((m) => m.channelId))]
      const refs = [...new Set(list.flatMap((m) => refOf(m)?.messageId ?? []))]
      // three reads by _id, side by side, whatever the channels' history
      const [byChannel, entryList, listDocs] = await Promise.all([
        counterOf(channelIds),
        // markers whose message was not indexed when they were written (usually none): one by one,
        // since FerretDB reads a whole collection for `$in` and only an equality by index
        Promise.all(refs.map(entryOf)),
        run('unread', () => mentionLists.find({ userId }).toArray())
      ])
      const entries = new Map(entryList.flatMap((e) => e ? [[e.id, e] as const] : []))
      const lists = new Map(listDocs.map(toList).map((l) => [l.channelId, l]))
      const counted = await Promise.all(list.map(async (m): Promise<[string, Counts]> => {
        const ref = refOf(m)
        const counts = countsAt(m, byChannel.get(m.channelId), ref && entries.get(ref.messageId), lists.get(m.channelId), max)
        return [m.channelId, counts ?? await count(m.channelId, userId, m.position, max)]
      }))
      return new Map(counted)
    },
    count,
    async readers (channelId, max) {
      return await run('readers', () => markers.countDocuments({ channelId }, { limit: max + 1 }))
    },
    async readBy (channelId, at, max) {
      const from = place(at)
      const found = await run('readBy', () => markers.find({ channelId, 'position.epoch': from.epoch, 'position.offset': { $gte: from.offset } }).limit(max).toArray())
      const off = await receiptsOff(found.map((m) => m.userId))
      return found.filter((m) => !off.has(m.userId)).map(toMarker)
    },
    receiptsOff,
    async setReceipts (userId, on) {
      await run('settings', () => settings.updateOne({ _id: userId }, { $set: { receipts: on } }, { upsert: true }))
    },
    async ping () {
      if (closed) throw new Error('read-state store is closed')
      await mongoCall(db, 'ping', () => db.command({ ping: 1 }))
    },
    async close () { closed = true; kept.clear() }
  }
}
