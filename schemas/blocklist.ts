// MODERATION_BLOCKLIST's grammar: comma-separated words and /regex/flags entries. Parsed by config.ts
// (an entry that does not compile stops the start) and by the moderation plugin's blocklist check.

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
