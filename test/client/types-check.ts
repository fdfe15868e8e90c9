// Type tests for @switchboard/client, checked by `npm run typecheck` (never run): the handlers'
// types come from the server's schemas, so each @ts-expect-error below must stay an error. A schema
// change that makes one of them compile fails the type-check.
import { createClient, type Channel } from '../../client/src/index.ts'

declare const room: Channel
room.on('message.created', ({ data, position }) => {
  const content: string = data.content
  const offset: string | undefined = position?.offset
  // @ts-expect-error a field the message schema does not have
  void data.text
  void content; void offset
})
room.on('reaction.added', ({ data }) => {
  const emoji: string = data.emoji
  // @ts-expect-error reactions name their message, they carry no content
  void data.content
  void emoji
})
room.on('pin.added', ({ data }) => {
  const version: number = data.version
  // @ts-expect-error pin events name their message, they carry no content
  void data.content
  void version
})
room.on('notification', ({ data }) => {
  const kind: 'mention' | 'reply' = data.kind
  // @ts-expect-error only a reply's notification names its thread
  if (data.kind === 'mention') void data.parentId
  if (data.kind === 'reply') { const parentId: string = data.parentId; void parentId }
  void kind
})
room.on('thread.updated', ({ data }) => { const count: number = data.thread.replyCount; void count })
// @ts-expect-error an event type the server never sends
room.on('message.pinned', () => {})

const client = createClient({ url: 'ws://localhost:5002/ws', autoConnect: false })
// @ts-expect-error a post needs its channel
void client.api.post({ content: 'hi' })
// @ts-expect-error history limits are numbers
void client.api.history('general', { limit: '10' })

// The client handles exactly the event types the topic catalogue says clients receive: a topic that
// adds one (schemas/topics.ts) fails this check until the client knows it.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const catalogueAndClientAgree: Same<import('../../schemas/topics.ts').ClientEventType, import('../../client/src/index.ts').EventType> = true
void catalogueAndClientAgree
