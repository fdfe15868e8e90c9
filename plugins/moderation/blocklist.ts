// The default moderation check: MODERATION_BLOCKLIST, comma-separated words and /regex/flags entries.
import { parseBlocklist } from '../../schemas/blocklist.ts'
import type { ModerationCheck } from './check.ts'

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
