// The demo chat: the page's own state and rendering; everything protocol (connection, reconnect,
// resubscribe with `since`, history reload on a gap, tokens, retried posts) is @switchboard/client,
// served built at /client.js. Every channel in the list stays subscribed, so its events (and its
// unread badge, `client.unread`) keep coming while another one is shown.
import { createClient, compareOffsets, isPersonalChannel } from '/client.js'
import { messageItem } from '/message-item.js'
import { PinnedList } from '/pinned-list.js'
import { ThreadPanel } from '/thread-panel.js'

const $ = (id) => document.getElementById(id)
const query = new URLSearchParams(location.search)
// Same origin by default (the API port's /ws); ?ws=ws://host:5002/ws picks the uWebSockets.js port.
const WS_URL = query.get('ws') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`

const state = {
  me: null,
  client: null,
  /** the channel shown */
  open: null,
  /** channelId → { id, channel, messages: Map, pins: PinnedList, seen: {messageId, readers: Set} | null, markedRead } */
  rooms: new Map(),
  present: new Map(),
  typing: new Map(),
  editing: null,
  draft: null,
  typingSentAt: 0
}
const openRoom = () => state.rooms.get(state.open)
const thread = new ThreadPanel((m) => item(m, true), showError)

// ---- the client ----------------------------------------------------------------------------------
/** A call of the HTTP API: the server's own message on failure. */
function api (call) {
  return call(state.client.api).then((result) => { showError(''); return result }, (err) => { showError(err.message); throw err })
}

function connect (me) {
  state.client?.close()
  thread.close()
  state.rooms.clear()
  state.open = null
  const client = createClient({
    url: WS_URL,
    api: location.origin,
    ...(me.token ? { token: me.token } : { user: { id: me.id, name: me.name } }),
    // the newest history page on join, and again whenever the server cannot replay what was missed
    reload: true
  })
  state.client = client
  client.on('state', (s) => {
    if (s === 'connecting') setStatus('connecting', 'connecting…')
    if (s === 'disconnected') setStatus('offline', 'reconnecting…')
  })
  client.on('connected', ({ user }) => {
    if (user) me.id = user // with a token, the server says who we are
    setStatus('online', `online as ${me.name}`)
  })
  client.on('failed', ({ message }) => setStatus('offline', `stopped: ${message}`))
  client.on('error', (f) => showError(`${f.code}: ${f.message}`))
  // seeded from GET /api/users/me/unread at every connect, then kept by events
  client.unread.on('change', () => renderChannels())
}

/** Subscribes to a channel (once) and keeps its messages and pins, shown or not. */
function addRoom (id) {
  if (state.rooms.has(id)) return state.rooms.get(id)
  const channel = state.client.channel(id)
  const room = { id, channel, messages: new Map(), seen: null, markedRead: null }
  room.pins = new PinnedList(channel, (messageId) => room.messages.get(messageId), () => shown() && render())
  state.rooms.set(id, room)
  const shown = () => state.open === id

  channel.on('subscribed', ({ resumed, recovered }) => {
    if (resumed && recovered && shown()) setStatus('online', `online as ${state.me.name} · resumed`)
    if (shown()) loadPresence().catch(() => {})
    // pins and receipts are not replayed: read them on every subscribe
    room.pins.load().catch(() => {})
    loadSeenBy(room).catch(() => {})
  })
  channel.on('reload', (page) => {
    room.messages = new Map([...page.messages].reverse().map((m) => [m.id, m]))
    loadSeenBy(room).catch(() => {})
    if (shown()) { markRead(room); render() }
  })
  channel.on('error', ({ code, message }) => showError(`#${id}: ${code}: ${message}`))
  channel.on('message.created', ({ data }) => {
    if (data.parentId && !data.alsoInChannel) return // a reply: its thread (channel.thread) has it
    room.messages.set(data.id, data)
    if (data.senderId === state.me.id) room.seen = { messageId: data.id, readers: new Set() }
    if (shown()) { state.typing.delete(data.senderId); markRead(room); render() }
  })
  channel.on('message.updated', ({ data }) => {
    const m = room.messages.get(data.id)
    if (m) Object.assign(m, { content: data.content, editedAt: data.editedAt })
    if (shown()) render()
  })
  channel.on('message.deleted', ({ data }) => {
    const m = room.messages.get(data.id)
    // a parent with replies stays as a placeholder, so its thread can still be opened (as history shows it)
    if (m?.thread?.replyCount) room.messages.set(data.id, { id: m.id, channelId: m.channelId, deleted: true, thread: m.thread, position: m.position })
    else room.messages.delete(data.id)
    if (room.seen?.messageId === data.id) loadSeenBy(room).catch(() => {})
    if (shown()) render()
  })
  channel.on('thread.updated', ({ data }) => {
    const m = room.messages.get(data.messageId)
    if (m) m.thread = data.thread
    if (shown()) render()
  })
  channel.on('receipt.read', ({ data }) => {
    // the reader's marker is at data.messageId: they have read everything up to it
    const seen = room.seen
    if (!seen || data.userId === state.me.id || !atOrAfter(room, data.messageId, seen.messageId)) return
    seen.readers.add(data.userId)
    if (shown()) render()
  })
  for (const type of ['reaction.added', 'reaction.removed']) {
    channel.on(type, ({ data }) => {
      const m = room.messages.get(data.messageId)
      if (!m) return
      const users = new Set(m.reactions?.[data.emoji] ?? [])
      users[type === 'reaction.added' ? 'add' : 'delete'](data.userId)
      m.reactions = { ...m.reactions, [data.emoji]: [...users] }
      if (users.size === 0) delete m.reactions[data.emoji]
      if (shown()) render()
    })
  }
  for (const type of ['pin.added', 'pin.removed']) channel.on(type, ({ data }) => room.pins.apply(type, data))
  channel.on('typing', ({ data }) => {
    if (!shown() || data.userId === state.me.id) return
    state.typing.set(data.userId, { name: data.name || data.userId, until: Date.now() + 4000 })
    setTimeout(renderTyping, 4100)
    renderTyping()
  })
  channel.on('presence.join', ({ data }) => { if (shown()) { state.present.set(data.userId, data.name || data.userId); renderPresence() } })
  channel.on('presence.leave', ({ data }) => { if (shown()) { state.present.delete(data.userId); renderPresence() } })
  return room
}

/** Shows a channel (subscribing to it first if needed) and marks it read. */
function openChannel (id) {
  const room = addRoom(id)
  if (state.open !== id) thread.close()
  state.open = id
  state.editing = state.draft = null
  state.present.clear()
  state.typing.clear()
  $('content').placeholder = `Message #${id}`
  loadPresence().catch(() => {})
  markRead(room)
  render()
}

/**
 * Moves the read marker to the newest message of others shown (debounced by the client); the badge
 * clears on `read.updated`. Your own messages never count as unread: no marker write for them.
 */
function markRead (room) {
  const newest = newestMessage(room, (m) => !m.deleted && m.senderId !== state.me.id)
  if (!newest || newest.id === room.markedRead) return
  room.markedRead = newest.id
  room.channel.markRead(newest.id).catch((err) => { room.markedRead = null; showError(err.message) })
}

/** "Seen by" under your last message: who has read it (null in big channels), then live `receipt.read`. */
async function loadSeenBy (room) {
  const mine = newestMessage(room, (m) => m.senderId === state.me.id)
  const seen = room.seen = mine ? { messageId: mine.id, readers: new Set() } : null
  if (!seen) return
  const { readBy } = await state.client.api.receipts(mine.id)
  if (room.seen !== seen) return
  if (readBy === null) room.seen = null // more readers than RECEIPTS_MAX_READERS: no receipts
  else for (const { userId } of readBy) if (userId !== state.me.id) seen.readers.add(userId)
  if (state.open === room.id) render()
}

function newestMessage (room, keep) {
  let newest
  for (const m of room.messages.values()) if (keep(m) && (!newest || m.id > newest.id)) newest = m
  return newest
}

/** Whether message a is at or after message b in the channel's stream (by position when both are known). */
function atOrAfter (room, a, b) {
  const [pa, pb] = [room.messages.get(a)?.position, room.messages.get(b)?.position]
  if (pa && pb && pa.epoch === pb.epoch) return compareOffsets(pa.offset, pb.offset) >= 0
  return a >= b // ids are time-sortable
}

async function loadPresence () {
  const channel = state.open
  const { users } = await api((a) => a.presence(channel))
  if (channel !== state.open) return
  state.present = new Map(users.map((u) => [u.userId, u.name || u.userId]))
  renderPresence()
}

// What the buttons of a message do (message-item.js).
const act = {
  edit: (m) => { state.editing = m.id; state.draft = null; render() },
  cancelEdit: () => { state.editing = state.draft = null; render() },
  setDraft: (text) => { state.draft = text },
  saveEdit: async (m, text) => {
    await api((a) => a.edit(m.id, text)).catch(() => {})
    state.editing = state.draft = null
    render()
  },
  remove: (m) => api((a) => a.delete(m.id)).catch(() => {}),
  react: (m, emoji) => api((a) => a.react(m.id, emoji)).catch(() => {}),
  unreact: (m, emoji) => api((a) => a.unreact(m.id, emoji)).catch(() => {}),
  pin: (m) => api(() => state.rooms.get(m.channelId).channel.pin(m.id)).catch(() => {}),
  unpin: (m) => api(() => state.rooms.get(m.channelId).channel.unpin(m.id)).catch(() => {}),
  openThread: (m) => thread.open(state.rooms.get(m.channelId), m.id)
}

// ---- rendering -----------------------------------------------------------------------------------
function render () {
  const room = openRoom()
  if (!room) return
  const list = $('messages')
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
  const messages = [...room.messages.values()].sort((a, b) => (a.id < b.id ? -1 : 1))
  list.replaceChildren(...messages.map((m) => item(m, false)))
  if (atBottom) list.scrollTop = list.scrollHeight
  thread.render()
  renderChannels()
  renderPins(room)
  renderPresence()
  renderTyping()
}

/** A message of the open channel, or a reply in the thread panel. */
function item (m, inThread) {
  const room = openRoom()
  const seenBy = !inThread && room.seen?.messageId === m.id ? [...room.seen.readers] : []
  return messageItem(m, { me: state.me.id, editing: state.editing, draft: state.draft, pinned: room.pins.has(m.id), inThread, seenBy }, act)
}

/** The channels this page subscribes to, and the others the server counts for you (`client.unread`), with their badges. */
function renderChannels () {
  const unread = state.client.unread
  const ids = new Set([...state.rooms.keys(), ...[...unread.channels.keys()].filter((id) => !isPersonalChannel(id))])
  $('channels').replaceChildren(...[...ids].sort().map((id) => {
    const li = document.createElement('li')
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'channel'
    button.dataset.channel = id
    button.textContent = `#${id}`
    const counts = unread.get(id)
    // the channel shown is being read: its marker follows (markRead), so it has no badge
    if (id === state.open) button.setAttribute('aria-current', 'true')
    else if (counts) {
      if (counts.unread > 0) button.append(badge('unread', `${counts.unread}${counts.capped ? '+' : ''}`, 'unread'))
      if (counts.mentions > 0) button.append(badge('mentions', `@${counts.mentions}`, 'mentions'))
    }
    button.onclick = () => openChannel(id)
    li.append(button)
    return li
  }))
}

function badge (cls, text, title) {
  const span = document.createElement('span')
  span.className = `badge ${cls}`
  span.textContent = text
  span.title = title
  return span
}

function renderPins (room) {
  $('pins').replaceChildren(...room.pins.entries.map(({ message }) => {
    const li = document.createElement('li')
    li.dataset.id = message.id
    const sender = document.createElement('strong')
    sender.textContent = message.senderName
    const unpin = document.createElement('button')
    unpin.type = 'button'
    unpin.className = 'unpin'
    unpin.textContent = 'Unpin'
    unpin.onclick = () => act.unpin(message)
    li.append(sender, ` ${message.content} `, unpin)
    return li
  }))
}

function renderPresence () {
  $('presence').replaceChildren(...[...state.present].map(([id, name]) => {
    const li = document.createElement('li')
    li.textContent = id === state.me.id ? `${name} (you)` : name
    return li
  }))
}

function renderTyping () {
  const names = [...state.typing].filter(([, t]) => t.until > Date.now()).map(([, t]) => t.name)
  $('typing').textContent = names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`
}

function setStatus (cls, text) { $('status').className = `status ${cls}`; $('status').textContent = text }
function showError (text) { $('error').textContent = text }

// ---- forms ---------------------------------------------------------------------------------------
$('join').onsubmit = (e) => {
  e.preventDefault()
  const name = $('name').value.trim()
  const id = name.replace(/[^A-Za-z0-9_.:@-]+/g, '-').slice(0, 128) || 'guest'
  state.me = { id, name, token: $('token').value.trim() || null }
  const channel = $('channel').value.trim()
  localStorage.setItem('switchboard-demo', JSON.stringify({ name, channel }))
  connect(state.me)
  for (const el of [...$('composer').elements, ...$('add-channel').elements]) el.disabled = false
  openChannel(channel)
}

$('add-channel').onsubmit = (e) => {
  e.preventDefault()
  const input = $('new-channel')
  if (!input.checkValidity() || !input.value.trim()) return
  openChannel(input.value.trim())
  input.value = ''
}

$('composer').onsubmit = async (e) => {
  e.preventDefault()
  const content = $('content').value
  const room = openRoom()
  if (!content.trim() || !room) return
  // the client adds a nonce and retries on 503 or a lost answer: a retried send is not posted twice
  const message = await api((a) => a.post({ channelId: room.id, content })).catch(() => null)
  if (!message) return
  $('content').value = ''
  if (!room.messages.has(message.id)) room.messages.set(message.id, message) // its event comes too, before or after this answer: same id
  render()
}

$('reply-composer').onsubmit = async (e) => {
  e.preventDefault()
  const content = $('reply-content').value
  if (!content.trim()) return
  if (await api(() => thread.reply(content)).catch(() => null)) $('reply-content').value = ''
}
$('close-thread').onclick = () => thread.close()

$('content').oninput = () => {
  if (Date.now() - state.typingSentAt < 3000) return
  state.typingSentAt = Date.now()
  api((a) => a.typing(state.open)).catch(() => {})
}

const saved = JSON.parse(localStorage.getItem('switchboard-demo') || '{}')
$('name').value = query.get('name') || saved.name || ''
$('channel').value = query.get('channel') || saved.channel || 'general'
