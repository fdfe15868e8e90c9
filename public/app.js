// The demo chat: the page's own state and rendering; everything protocol (connection, reconnect,
// resubscribe with `since`, history reload on a gap, tokens, retried posts) is @switchboard/client,
// served built at /client.js. Every channel in the list stays subscribed, so its events keep
// coming while another one is shown.
import { createClient } from '/client.js'
import { messageItem } from '/message-item.js'
import { PinnedList } from '/pinned-list.js'

const $ = (id) => document.getElementById(id)
const query = new URLSearchParams(location.search)
// Same origin by default (the API port's /ws); ?ws=ws://host:5002/ws picks the uWebSockets.js port.
const WS_URL = query.get('ws') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`

const state = {
  me: null,
  client: null,
  /** the channel shown */
  open: null,
  /** channelId → { id, channel, messages: Map, pins: PinnedList } */
  rooms: new Map(),
  present: new Map(),
  typing: new Map(),
  editing: null,
  draft: null,
  typingSentAt: 0
}
const openRoom = () => state.rooms.get(state.open)

// ---- the client ----------------------------------------------------------------------------------
/** A call of the HTTP API: the server's own message on failure. */
function api (call) {
  return call(state.client.api).then((result) => { showError(''); return result }, (err) => { showError(err.message); throw err })
}

function connect (me) {
  state.client?.close()
  state.rooms.clear()
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
}

/** Subscribes to a channel (once) and keeps its messages and pins, shown or not. */
function addRoom (id) {
  if (state.rooms.has(id)) return state.rooms.get(id)
  const channel = state.client.channel(id)
  const room = { id, channel, messages: new Map() }
  room.pins = new PinnedList(channel, (messageId) => room.messages.get(messageId), () => shown() && render())
  state.rooms.set(id, room)
  const shown = () => state.open === id

  channel.on('subscribed', ({ resumed, recovered }) => {
    if (resumed && recovered && shown()) setStatus('online', `online as ${state.me.name} · resumed`)
    if (shown()) loadPresence().catch(() => {})
    room.pins.load().catch(() => {}) // pin events are not replayed: read the list on every subscribe
  })
  channel.on('reload', (page) => {
    room.messages = new Map([...page.messages].reverse().map((m) => [m.id, m]))
    if (shown()) render()
  })
  channel.on('error', ({ code, message }) => showError(`#${id}: ${code}: ${message}`))
  channel.on('message.created', ({ data }) => {
    room.messages.set(data.id, data)
    if (shown()) { state.typing.delete(data.senderId); render() }
  })
  channel.on('message.updated', ({ data }) => {
    const m = room.messages.get(data.id)
    if (m) Object.assign(m, { content: data.content, editedAt: data.editedAt })
    if (shown()) render()
  })
  channel.on('message.deleted', ({ data }) => { room.messages.delete(data.id); if (shown()) render() })
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

/** Shows a channel (subscribing to it first if needed). */
function openChannel (id) {
  addRoom(id)
  state.open = id
  state.editing = state.draft = null
  state.present.clear()
  state.typing.clear()
  $('content').placeholder = `Message #${id}`
  loadPresence().catch(() => {})
  render()
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
  unpin: (m) => api(() => state.rooms.get(m.channelId).channel.unpin(m.id)).catch(() => {})
}

// ---- rendering -----------------------------------------------------------------------------------
function render () {
  const room = openRoom()
  if (!room) return
  const list = $('messages')
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
  const view = { me: state.me.id, editing: state.editing, draft: state.draft }
  const messages = [...room.messages.values()].sort((a, b) => (a.id < b.id ? -1 : 1))
  list.replaceChildren(...messages.map((m) => messageItem(m, { ...view, pinned: room.pins.has(m.id) }, act)))
  if (atBottom) list.scrollTop = list.scrollHeight
  renderChannels()
  renderPins(room)
  renderPresence()
  renderTyping()
}

function renderChannels () {
  $('channels').replaceChildren(...[...state.rooms.keys()].sort().map((id) => {
    const li = document.createElement('li')
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'channel'
    button.dataset.channel = id
    button.textContent = `#${id}`
    if (id === state.open) button.setAttribute('aria-current', 'true')
    button.onclick = () => openChannel(id)
    li.append(button)
    return li
  }))
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

$('content').oninput = () => {
  if (Date.now() - state.typingSentAt < 3000) return
  state.typingSentAt = Date.now()
  api((a) => a.typing(state.open)).catch(() => {})
}

const saved = JSON.parse(localStorage.getItem('switchboard-demo') || '{}')
$('name').value = query.get('name') || saved.name || ''
$('channel').value = query.get('channel') || saved.channel || 'general'
