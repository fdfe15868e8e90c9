// The default moderation check: MODERATION_BLOCKLIST, comma-separated words and /regex/flags entries.
import type { ModerationCheck } from './check.ts'

export interface BlocklistRule { rule: string, pattern: RegExp }

// One entry: a /regex/flags literal (a `/` inside it is escaped as `\/`), or plain text up to a comma.
const ENTRY = /\s*(\/(?:\\.|[^\\/])+\/[a-z]*|[^,]*)\s*(?:,|$)/y
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Parses the list; throws naming the entry that does not compile. */
export function parseBlocklist (list: string): BlocklistRule[] {
  const rules: BlocklistRule[] = []
  ENTRY.lastIndex = 0
  while (ENTRY.lastIndex < list.length) {
    const match = ENTRY.exec(list)
    if (!match) throw new Error(`cannot parse entry at character ${ENTRY.lastIndex}`)
    const entry = match[1].trim()
    if (entry === '') continue
    const literal = /^\/(.+)\/([a-z]*)$/s.exec(entry)
    if (literal) {
      try {
        rules.push({ rule: entry, pattern: new RegExp(literal[1], literal[2].replace(/[gy]/g, '')) })
      } catch (err) {
        throw new Error(`entry ${entry} is not a valid regular expression: ${(err as Error).message}`)
      }
    } else {
      // a word matches as a whole word, in any case
      rules.push({ rule: entry, pattern: new RegExp(`(?<![\\p{L}\\p{N}_])${escape(entry)}(?![\\p{L}\\p{N}_])`, 'iu') })
    }
  }
  return rules
}

/** The check that refuses content matching any blocklist entry, naming the entry. */
export function blocklistCheck (list: string): ModerationCheck | null {
  const rules = parseBlocklist(list)
  if (rules.length === 0) return null
  return {
    name: 'blocklist',
    check ({ content }) {
      const hit = rules.find((r) => r.pattern.test(content))
      return hit ? { rule: `blocklist ${hit.rule}`, reason: 'content contains a blocked word or pattern' } : undefined
    }
  }
}
