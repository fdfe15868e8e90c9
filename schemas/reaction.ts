// Reactions: who reacted to which message with which emoji.
import { FormatRegistry, Type, type Static } from '@sinclair/typebox'
import { MessageId } from './message-change.ts'

const SHORTCODE = /^:[a-z0-9_+-]{1,30}:$/
// A pictograph or a flag (regional indicators) makes a grapheme an emoji; so does a keycap, but only
// on the twelve keys that have one (0-9 # *: 1️⃣, #️⃣), never `.⃣`, `$⃣` or `a⃣`.
const PICTURE = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u
const KEYCAP = /^[0-9#*]\uFE0F?\u20E3$/u
const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u
const EMOJI_FORMAT = /[\u200D\u{E0020}-\u{E007F}]/gu
const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' })

/** One emoji grapheme or a `:shortcode:`; never `.`, `$` or control characters (it becomes a store field name). */
export function isEmoji (value: string): boolean {
  if (value.length < 1 || value.length > 32) return false
  if (SHORTCODE.test(value)) return true
  // the joiner (👩‍💻) and tag characters (🏴󠁧󠁢󠁳󠁣󠁴󠁿) are format characters that belong to emoji
  if (CONTROL.test(value.replace(EMOJI_FORMAT, ''))) return false
  if (value.includes('\u20E3')) return KEYCAP.test(value)
  // never part of an emoji, and a store must never meet them in a key
  if (value.includes('.') || value.includes('$')) return false
  const parts = [...graphemes.segment(value)]
  return parts.length === 1 && PICTURE.test(value)
}

if (!FormatRegistry.Has('emoji')) FormatRegistry.Set('emoji', isEmoji)

export const Emoji = Type.String({ minLength: 1, maxLength: 32, format: 'emoji', description: 'one emoji (👍, 🇫🇷, 👩🏽‍💻) or a :shortcode: of a-z 0-9 _ + -' })

export const ReactionParams = Type.Object({ id: MessageId, emoji: Emoji })

/** The data of `reaction.added` / `reaction.removed`. */
export const ReactionChange = Type.Object({
  messageId: Type.String({ minLength: 1 }),
  emoji: Type.String({ minLength: 1, maxLength: 32 }),
  userId: Type.String({ minLength: 1 })
})
export type ReactionChange = Static<typeof ReactionChange>
