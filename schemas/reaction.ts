// Reactions: who reacted to which message with which emoji.
import { Type, type Static } from '@sinclair/typebox'
import { Text } from './formats.ts'
import { MessageId } from './message-change.ts'

// The emoji rule is one regular expression, published as the parameter's `pattern` so that a client
// can check an emoji before sending it, and the same expression is what the server checks. It is
// written so that JavaScript (flag u), Python's `re` and Rust's `regex` read it alike: astral
// characters as themselves, never as `\u{…}` (Python) or surrogate pairs (flag u), `\uXXXX` only in
// the BMP. Being grammar, not grapheme segmentation, every match is at most 32 UTF-16 units (and code
// points): a ZWJ sequence joins at most five pictographs (RGI sequences join four).
//   :shortcode:          :[a-z0-9_+-]{1,30}:
//   keycap               [0-9#*] FE0F? 20E3                (never `.⃣`, `$⃣` or `a⃣`)
//   flag                 one or two regional indicators    (🇫🇷)
//   tag sequence         pictograph, 1-8 tag characters, cancel tag   (🏴󠁧󠁢󠁳󠁣󠁴󠁿)
//   ZWJ sequence         element (ZWJ element){0,4}; element = pictograph, then FE0F, FE0E or a skin tone
// None of them has `.`, `$` or a control character outside an emoji (the store keeps emoji as keys).

/** Extended_Pictographic as this runtime's Unicode tables define it (all below U+20000), as ranges. */
function pictographRanges (): Array<[number, number]> {
  const pictographic = /\p{Extended_Pictographic}/u
  const ranges: Array<[number, number]> = []
  for (let cp = 0; cp < 0x20000; cp++) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue
    if (!pictographic.test(String.fromCodePoint(cp))) continue
    const last = ranges[ranges.length - 1]
    if (last && last[1] === cp - 1) last[1] = cp
    else ranges.push([cp, cp])
  }
  return ranges
}

/** A code point as a pattern character every engine reads alike (never ASCII here). */
const char = (cp: number) => cp <= 0xFFFF ? `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}` : String.fromCodePoint(cp)
const range = (from: number, to: number) => from === to ? char(from) : `${char(from)}-${char(to)}`

const PICTOGRAPH = `[${pictographRanges().map(([from, to]) => range(from, to)).join('')}]`
const ELEMENT = `${PICTOGRAPH}(?:\\uFE0F|\\uFE0E|[${range(0x1F3FB, 0x1F3FF)}])?`
const TAGS = `[${range(0xE0020, 0xE007E)}]{1,8}${char(0xE007F)}`

/** The emoji rule as a pattern (ECMA-262 with flag u; Python and Rust read it the same way). */
export const EMOJI_PATTERN = '^(?:' + [
  ':[a-z0-9_+-]{1,30}:',
  '[0-9#*]\\uFE0F?\\u20E3',
  `[${range(0x1F1E6, 0x1F1FF)}]{1,2}`,
  `${PICTOGRAPH}${TAGS}`,
  `${ELEMENT}(?:\\u200D${ELEMENT}){0,4}`
].join('|') + ')$'

const EMOJI = new RegExp(EMOJI_PATTERN, 'u')

/** One emoji or a `:shortcode:`: exactly the strings EMOJI_PATTERN matches. */
export function isEmoji (value: string): boolean {
  return EMOJI.test(value)
}

// A Text, not TypeBox's String: TypeBox compiles a pattern without flag u, which cannot read astral ranges.
export const Emoji = Text({
  minLength: 1,
  maxLength: 32,
  pattern: EMOJI_PATTERN,
  description: 'one emoji (👍, 🇫🇷, 👩🏽‍💻, 1️⃣) or a :shortcode: of a-z 0-9 _ + -, as the pattern says',
  explained: 'must be one emoji (👍, 🇫🇷, 👩🏽‍💻, 1️⃣) or a :shortcode: of 1 to 30 characters a-z 0-9 _ + - (the pattern in /docs/json)'
})

export const ReactionParams = Type.Object({ id: MessageId, emoji: Emoji })

/** The data of `reaction.added` / `reaction.removed`. */
export const ReactionChange = Type.Object({
  messageId: Type.String({ minLength: 1 }),
  emoji: Type.String({ minLength: 1, maxLength: 32 }),
  userId: Type.String({ minLength: 1 })
})
export type ReactionChange = Static<typeof ReactionChange>
