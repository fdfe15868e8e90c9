// The demo chat: the page's own state and rendering; everything protocol (connection, reconnect,
// resubscribe with `since`, history reload on a gap, tokens, retried posts) is @switchboard/client,
// served built at /client.js.
import { createClient } from '/client.js'

const $ = (id) => document.getElementById(id)
const QUICK = ['👍', '❤️', '😂', '🎉']
const query = new URLSearchParams(location.search)
// Same origin by default (the API port's /ws); ?ws=ws://host:5002/ws picks the uWebSockets.js port.
const WS_URL = query.get('ws') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`

const state = {
  me: null,
  channel: null,
  client: null,
  room: null,
  messages: new Map(),
  present: new Map(),
  typing: new Map(),
  editing: null,
  draft: null,
  typingSentAt: 0
}

// ---- the client ----------------------------------------------------------------------------------
/** A call of the HTTP API: the server's own message on failure. */
function api (call) {
  return call(state.client.api).then((result) => { showError(''); return result }, (err) => { showError(err.message); throw err })
}

function join (me, channel) {
  state.client?.close()
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

  const room = client.channel(channel)
  state.room = room
  room.on('subscribed', ({ resumed, recovered }) => {
    if (resumed && recovered) setStatus('online', `online as ${me.name} · resumed`)
    loadPresence().catch(() => {})
  })
  room.on('reload', (page) => {
    state.messages = new Map([...page.messages].reverse().map((m) => [m.id, m]))
    render()
  })
  room.on('error', ({ code, message }) => showError(`${code}: ${message}`))
  room.on('message.created', ({ data }) => {
    state.messages.set(data.id, data)
    state.typing.delete(data.senderId)
    render()
  })
  room.on('message.updated', ({ data }) => {
    const m = state.messages.get(data.id)
    if (m) Object.assign(m, { content: data.content, editedAt: data.editedAt })
    render()
  })
  room.on('message.deleted', ({ data }) => { state.messages.delete(data.id); render() })
  for (const type of ['reaction.added', 'reaction.removed']) {
    room.on(type, ({ data }) => {
      const m = state.messages.get(data.messageId)
      if (!m) return
      const users = new Set(m.reactions?.[data.emoji] ?? [])
      users[type === 'reaction.added' ? 'add' : 'delete'](data.userId)
      m.reactions = { ...m.reactions, [data.emoji]: [...users] }
      if (users.size === 0) delete m.reactions[data.emoji]
      render()
    })
  }
  room.on('typing', ({ data }) => {
    if (data.userId !== me.id) state.typing.set(data.userId, { name: data.name || data.userId, until: Date.now() + 4000 })
    setTimeout(renderTyping, 4100)
    renderTyping()
  })
  room.on('presence.join', ({ data }) => { state.present.set(data.userId, data.name || data.userId); renderPresence() })
  room.on('presence.leave', ({ data }) => { state.present.delete(data.userId); renderPresence() })
}

async function loadPresence () {
  const { users } = await api((a) => a.presence(state.channel))
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
  for (const [cls, action] of [['edit', () => { state.editing = m.id; state.draft = null; render() }], ['delete', () => api((a) => a.delete(m.id)).catch(() => {})]]) {
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
  button.onclick = () => api((a) => mine ? a.unreact(m.id, emoji) : a.react(m.id, emoji)).catch(() => {})
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
    await api((a) => a.edit(m.id, input.value)).catch(() => {})
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
  state.editing = null
  for (const map of [state.messages, state.present, state.typing]) map.clear()
  localStorage.setItem('switchboard-demo', JSON.stringify({ name, channel: state.channel }))
  join(state.me, state.channel)
  for (const el of $('composer').elements) el.disabled = false
  $('content').placeholder = `Message #${state.channel}`
  render()
}

$('composer').onsubmit = async (e) => {
  e.preventDefault()
  const content = $('content').value
  if (!content.trim()) return
  // the client adds a nonce and retries on 503 or a lost answer: a retried send is not posted twice
  const message = await api((a) => a.post({ channelId: state.channel, content })).catch(() => null)
  if (!message) return
  $('content').value = ''
  if (!state.messages.has(message.id)) state.messages.set(message.id, message) // its event comes too, before or after this answer: same id
  render()
}

$('content').oninput = () => {
  if (Date.now() - state.typingSentAt < 3000) return
  state.typingSentAt = Date.now()
  api((a) => a.typing(state.channel)).catch(() => {})
}

const saved = JSON.parse(localStorage.getItem('switchboard-demo') || '{}')
$('name').value = query.get('name') || saved.name || ''
$('channel').value = query.get('channel') || saved.channel || 'general'
