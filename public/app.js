// The demo chat: plain browser JavaScript on the public HTTP API and WebSocket protocol v1, nothing else.
const $ = (id) => document.getElementById(id)
const QUICK = ['👍', '❤️', '😂', '🎉']
const query = new URLSearchParams(location.search)
// Same origin by default (the API port's /ws); ?ws=ws://host:5002/ws picks the uWebSockets.js port.
const WS_URL = query.get('ws') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`

const state = {
  me: null, channel: null, socket: null, retries: 0,
  last: null, // the last stream position seen: resubscribing with it as `since` recovers what was missed
  messages: new Map(), deleted: new Set(), present: new Map(), typing: new Map(),
  editing: null, draft: null, typingSentAt: 0
}

// ---- HTTP ----------------------------------------------------------------------------------------
async function api (method, path, body) {
  const headers = body === undefined ? {} : { 'content-type': 'application/json' }
  if (state.me.token) headers.authorization = `Bearer ${state.me.token}`
  else Object.assign(headers, { 'x-user-id': state.me.id, 'x-user-name': state.me.name })
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    .catch((err) => { showError(`${method} ${path}: the server is unreachable`); throw err })
  const data = res.status === 204 || res.status === 202 ? null : await res.json().catch(() => null)
  if (!res.ok) {
    showError(`${method} ${path}: ${data?.message ?? res.statusText}`)
    throw new Error(data?.message ?? res.statusText)
  }
  showError('')
  return data
}
const channelPath = (suffix) => `/api/channels/${encodeURIComponent(state.channel)}/${suffix}`
const messagePath = (id, suffix = '') => `/api/messages/${id}${suffix}`

// ---- positions -----------------------------------------------------------------------------------
function see (position) {
  if (!position) return
  const last = state.last
  // Replayed frames come after `subscribed` and may be older than where it put us: never go back.
  if (last && last.epoch === position.epoch && BigInt(position.offset) <= BigInt(last.offset)) return
  state.last = position
}

// ---- WebSocket -----------------------------------------------------------------------------------
function connect () {
  const who = state.me.token ? `token=${encodeURIComponent(state.me.token)}` : `user=${encodeURIComponent(state.me.id)}`
  const socket = new WebSocket(`${WS_URL}?${who}`)
  state.socket = socket
  setStatus('connecting', 'connecting…')
  socket.onmessage = (e) => onFrame(JSON.parse(e.data))
  socket.onclose = () => {
    if (state.socket !== socket) return // closed on purpose: another channel was joined
    setStatus('offline', 'reconnecting…')
    const delay = Math.min(10_000, 500 * 2 ** state.retries++)
    setTimeout(() => { if (state.socket === socket) connect() }, delay)
  }
}
const send = (frame) => state.socket?.readyState === WebSocket.OPEN && state.socket.send(JSON.stringify(frame))
setInterval(() => send({ op: 'ping' }), 30_000) // stays under the server's idle timeout

function onFrame (f) {
  if (f.op === 'ready') {
    state.retries = 0
    if (f.user) state.me.id = f.user // with a token, the server says who we are
    setStatus('online', `online as ${state.me.name}`)
    send({ op: 'subscribe', channel: state.channel, ...(state.last ? { since: state.last } : {}) })
  } else if (f.op === 'subscribed' && f.channel === state.channel) {
    // recovered: the missed events follow as frames. Otherwise start over from HTTP.
    // api() has shown any failure already
    if (!f.recovered) reloadHistory(f.position).catch(() => {})
    else setStatus('online', `online as ${state.me.name} · resumed`)
    loadPresence().catch(() => {})
  } else if (f.op === 'event' && f.channel === state.channel) {
    onEvent(f)
  } else if (f.op === 'error') {
    showError(`${f.code}: ${f.message}`)
  }
}

function onEvent ({ type, data, position }) {
  see(position)
  if (type === 'message.created') {
    if (!state.messages.has(data.id) && !state.deleted.has(data.id)) state.messages.set(data.id, data)
    state.typing.delete(data.senderId)
  } else if (type === 'message.updated') {
    const m = state.messages.get(data.id)
    if (m) Object.assign(m, { content: data.content, editedAt: data.editedAt })
  } else if (type === 'message.deleted') {
    state.messages.delete(data.id)
    state.deleted.add(data.id)
  } else if (type === 'reaction.added' || type === 'reaction.removed') {
    const m = state.messages.get(data.messageId)
    if (!m) return
    const users = new Set(m.reactions?.[data.emoji] ?? [])
    users[type === 'reaction.added' ? 'add' : 'delete'](data.userId)
    m.reactions = { ...m.reactions, [data.emoji]: [...users] }
    if (users.size === 0) delete m.reactions[data.emoji]
  } else if (type === 'typing') {
    if (data.userId !== state.me.id) state.typing.set(data.userId, { name: data.name || data.userId, until: Date.now() + 4000 })
    setTimeout(renderTyping, 4100)
  } else if (type === 'presence.join') {
    state.present.set(data.userId, data.name || data.userId)
  } else if (type === 'presence.leave') {
    state.present.delete(data.userId)
  }
  render()
}

async function reloadHistory (position) {
  state.last = position
  state.messages.clear()
  state.deleted.clear()
  const page = await api('GET', channelPath('messages?limit=50'))
  // Live events that arrived meanwhile are newer than the page: keep them.
  for (const m of page.messages) if (!state.messages.has(m.id) && !state.deleted.has(m.id)) state.messages.set(m.id, m)
  if (!state.last) for (const m of [...page.messages].reverse()) see(m.position)
  render()
}

async function loadPresence () {
  const { users } = await api('GET', channelPath('presence'))
  state.present = new Map(users.map((u) => [u.userId, u.name || u.userId]))
  renderPresence()
}

// ---- rendering -----------------------------------------------------------------------------------
function render () {
  const list = $('messages')
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
  list.replaceChildren(...[...state.messages.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map(renderMessage))
  if (atBottom) list.scrollTop = list.scrollHeight
  renderPresence()
  renderTyping()
}

function renderMessage (m) {
  const li = $('message-template').content.firstElementChild.cloneNode(true)
  const mine = m.senderId === state.me.id
  li.dataset.id = m.id
  li.classList.toggle('mine', mine)
  li.querySelector('.sender').textContent = m.senderName
  li.querySelector('time').textContent = new Date(m.createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  li.querySelector('time').dateTime = m.createdAt
  li.querySelector('.edited').hidden = !m.editedAt
  const content = li.querySelector('.content')
  if (state.editing === m.id) content.replaceChildren(editor(m))
  else content.textContent = m.content
  const reactions = Object.entries(m.reactions ?? {})
  li.querySelector('.reactions').replaceChildren(...reactions.map(([emoji, users]) => reactionButton(m, emoji, users)))
  li.querySelector('.add-reaction').replaceChildren(...QUICK.filter((e) => !m.reactions?.[e]).map((e) => reactionButton(m, e, [])))
  for (const [cls, action] of [['edit', () => { state.editing = m.id; state.draft = null; render() }], ['delete', () => api('DELETE', messagePath(m.id)).catch(() => {})]]) {
    const button = li.querySelector(`.${cls}`)
    button.hidden = !mine
    button.onclick = action
  }
  return li
}

function reactionButton (m, emoji, users) {
  const button = document.createElement('button')
  const mine = users.includes(state.me.id)
  button.type = 'button'
  button.className = mine ? 'reaction reacted' : 'reaction'
  button.textContent = users.length ? `${emoji} ${users.length}` : emoji
  button.title = users.length ? users.join(', ') : `react with ${emoji}`
  button.onclick = () => api(mine ? 'DELETE' : 'PUT', messagePath(m.id, `/reactions/${encodeURIComponent(emoji)}`)).catch(() => {})
  return button
}

function editor (m) {
  const input = document.createElement('input')
  input.className = 'editor'
  // Every event re-renders the list: the draft lives in state, not in the input.
  input.value = state.draft ?? m.content
  input.oninput = () => { state.draft = input.value }
  input.onkeydown = async (e) => {
    if (e.key === 'Escape') { state.editing = state.draft = null; render() }
    if (e.key !== 'Enter' || !input.value.trim()) return
    await api('PATCH', messagePath(m.id), { content: input.value }).catch(() => {})
    state.editing = state.draft = null
    render()
  }
  queueMicrotask(() => input.focus())
  return input
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
  state.channel = $('channel').value.trim()
  Object.assign(state, { last: null, editing: null, retries: 0 })
  for (const map of [state.messages, state.deleted, state.present, state.typing]) map.clear()
  localStorage.setItem('switchboard-demo', JSON.stringify({ name, channel: state.channel }))
  const old = state.socket
  state.socket = null
  old?.close()
  connect()
  for (const el of $('composer').elements) el.disabled = false
  $('content').placeholder = `Message #${state.channel}`
  render()
}

$('composer').onsubmit = async (e) => {
  e.preventDefault()
  const content = $('content').value
  if (!content.trim()) return
  const nonce = crypto.randomUUID?.() ?? `${Date.now()}-${Math.random()}` // a retried send is not posted twice
  const message = await api('POST', '/api/messages', { channelId: state.channel, content, nonce }).catch(() => null)
  if (!message) return
  $('content').value = ''
  if (!state.messages.has(message.id)) state.messages.set(message.id, message) // the event follows; same id
  render()
}

$('content').oninput = () => {
  if (Date.now() - state.typingSentAt < 3000) return
  state.typingSentAt = Date.now()
  api('POST', channelPath('typing')).catch(() => {})
}

const saved = JSON.parse(localStorage.getItem('switchboard-demo') || '{}')
$('name').value = query.get('name') || saved.name || ''
$('channel').value = query.get('channel') || saved.channel || 'general'
