// String formats used by the schemas, registered once for TypeBox's compiler (Ajv has its own).
import { FormatRegistry } from '@sinclair/typebox'

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => ISO_TIME.test(v) && !Number.isNaN(Date.parse(v)))
