// The thread panel: one thread of the open channel. `channel.thread(parentId)` loads its replies and
// keeps them current from the channel's events (new replies, edits, reactions, deletions); the
// parent's reply count lives on the parent in the channel's list (`thread.updated`, app.js).
const $ = (id) => document.getElementById(id)

export class ThreadPanel {
  #thread = null

  /** @param item (message) → the list item of a reply (message-item.js, through app.js) */
  constructor (item, onerror) {
    this.item = item
    this.onerror = onerror
    this.room = null
  }

  get parentId () { return this.#thread?.parentId ?? null }

  open (room, parentId) {
    this.close()
    this.room = room
    this.#thread = room.channel.thread(parentId)
    this.#thread.on('change', () => this.render())
    this.#thread.on('error', ({ message }) => this.onerror(message))
    $('thread').hidden = false
    this.render()
    $('reply-content').focus()
  }

  close () {
    this.#thread?.close()
    this.#thread = this.room = null
    $('thread').hidden = true
  }

  /** Posts a reply (with `parentId`); it shows up when its `message.created` comes back. */
  reply (content) { return this.#thread.reply(content) }

  render () {
    if (!this.#thread) return
    const parent = this.room.messages.get(this.parentId)
    const sender = document.createElement('strong')
    sender.textContent = parent?.deleted ? 'deleted message' : parent?.senderName ?? ''
    $('thread-parent').replaceChildren(sender, ` ${parent?.content ?? ''}`)
    $('replies').replaceChildren(...this.#thread.replies.map(this.item))
  }
}
