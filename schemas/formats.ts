// String formats used by the schemas, registered once for TypeBox's compiler (Ajv has its own), and
// `Text`: a string checked the way its JSON Schema reads to a client.
import { FormatRegistry, Kind, Type, TypeRegistry, type TSchema } from '@sinclair/typebox'
import { DefaultErrorFunction, SetErrorFunction } from '@sinclair/typebox/errors'

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => ISO_TIME.test(v) && !Number.isNaN(Date.parse(v)))

/** A schema's own words for a value that breaks it (a text, or one made from the value); TypeBox's otherwise. */
export const Explained = Symbol.for('switchboard.explained')
type Explanation = string | ((value: unknown) => string)

SetErrorFunction((error) => {
  const explained = (error.schema as TSchema & { [Explained]?: Explanation })[Explained]
  if (explained === undefined) return DefaultErrorFunction(error)
  return typeof explained === 'function' ? explained(error.value) : explained
})

export interface TextOptions {
  minLength?: number
  maxLength?: number
  /** ECMA-262 with flag u, unanchored as in JSON Schema. */
  pattern?: string
  description?: string
  explained?: Explanation
}

/**
 * A string checked as JSON Schema (and so a generated client) reads its schema: lengths in code
 * points, the pattern with flag u. TypeBox's own String counts UTF-16 units and compiles a pattern
 * without flag u, so for text beyond ASCII the document and the server would disagree.
 */
export function Text ({ explained, ...options }: TextOptions) {
  return Type.Unsafe<string>({ [Kind]: 'Text', type: 'string', ...options, ...(explained === undefined ? {} : { [Explained]: explained }) })
}

const compiled = new Map<string, RegExp>()
const regex = (pattern: string) => compiled.get(pattern) ?? compiled.set(pattern, new RegExp(pattern, 'u')).get(pattern)!

/** Code points in a string (JSON Schema's minLength and maxLength count these). */
export function codePoints (value: string): number {
  let n = 0
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- counts without building an array
  for (const _ of value) n++
  return n
}

if (!TypeRegistry.Has('Text')) {
  TypeRegistry.Set<TextOptions>('Text', (schema, value) => {
    if (typeof value !== 'string') return false
    const length = codePoints(value)
    if (schema.minLength !== undefined && length < schema.minLength) return false
    if (schema.maxLength !== undefined && length > schema.maxLength) return false
    return schema.pattern === undefined || regex(schema.pattern).test(value)
  })
}
