// One message as a list item, for the channel and for the thread panel: the page's state goes in
// (`view`), and the buttons call back into app.js (`act`); nothing here talks to the server.
const QUICK = ['👍', '❤️', '😂', '🎉']
const $template = () => document.getElementById('message-template').content.firstElementChild

/**
 * @param m the message (or a deleted parent's placeholder `{id, deleted: true, thread}`)
 * @param view `{me, editing, draft, pinned, inThread, seenBy}`: seenBy, the readers of your message
 * @param act `{edit, cancelEdit, saveEdit, setDraft, remove, react, unreact, pin, unpin, openThread}`
 */
export function messageItem (m, view, act) {
  const li = $template().cloneNode(true)
  const mine = m.senderId === view.me
  li.dataset.id = m.id
  li.classList.toggle('mine', mine)
  li.classList.toggle('pinned', view.pinned)
  if (m.deleted) {
    li.classList.add('deleted')
    li.querySelector('.meta').textContent = 'deleted message'
    li.querySelector('.content').textContent = ''
  } else {
    li.querySelector('.sender').textContent = m.senderName
    li.querySelector('time').textContent = new Date(m.createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    li.querySelector('time').dateTime = m.createdAt
    li.querySelector('.edited').hidden = !m.editedAt
    const content = li.querySelector('.content')
    if (view.editing === m.id) content.replaceChildren(editor(m, view, act))
    else content.textContent = m.content
  }
  const reactions = Object.entries(m.reactions ?? {})
  li.querySelector('.reactions').replaceChildren(...reactions.map(([emoji, users]) => reactionButton(m, emoji, users, view, act)))
  li.querySelector('.add-reaction').replaceChildren(...(m.deleted ? [] : QUICK.filter((e) => !m.reactions?.[e]).map((e) => reactionButton(m, e, [], view, act))))
  const buttons = {
    edit: [mine && !m.deleted, () => act.edit(m)],
    delete: [mine && !m.deleted, () => act.remove(m)],
    pin: [!view.inThread && !m.deleted, () => (view.pinned ? act.unpin(m) : act.pin(m))],
    // threads are one level: a reply has no thread of its own
    'open-thread': [!view.inThread, () => act.openThread(m)]
  }
  for (const [cls, [shown, onclick]] of Object.entries(buttons)) {
    const button = li.querySelector(`.${cls}`)
    button.hidden = !shown
    button.onclick = onclick
  }
  li.querySelector('.pin').textContent = view.pinned ? 'Unpin' : 'Pin'
  const replies = m.thread?.replyCount ?? 0
  li.querySelector('.open-thread').textContent = replies === 0 ? 'Reply' : `${replies} ${replies === 1 ? 'reply' : 'replies'}`
  const seen = li.querySelector('.seen')
  seen.hidden = !view.seenBy?.length
  seen.textContent = view.seenBy?.length ? `Seen by ${view.seenBy.join(', ')}` : ''
  return li
}

function reactionButton (m, emoji, users, view, act) {
  const button = document.createElement('button')
  const mine = users.includes(view.me)
  button.type = 'button'
  button.className = mine ? 'reaction reacted' : 'reaction'
  button.textContent = users.length ? `${emoji} ${users.length}` : emoji
  button.title = users.length ? users.join(', ') : `react with ${emoji}`
  button.onclick = () => (mine ? act.unreact(m, emoji) : act.react(m, emoji))
  return button
}

function editor (m, view, act) {
  const input = document.createElement('input')
  input.className = 'editor'
  // Every event re-renders the list: the draft lives in app.js's state, not in the input.
  input.value = view.draft ?? m.content
  input.oninput = () => act.setDraft(input.value)
  input.onkeydown = (e) => {
    if (e.key === 'Escape') act.cancelEdit()
    if (e.key === 'Enter' && input.value.trim()) act.saveEdit(m, input.value)
  }
  queueMicrotask(() => input.focus())
  return input
}
