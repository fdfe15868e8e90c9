// The tests' TypeScript loader (.taprc node-arg): tsx, plus a load hook (test/tsx-hooks.js) that
// makes tap's coverage of TypeScript true. Without it, tsx's source maps carry `sourcesContent:
// [null]` and c8 maps each file to a single statement, reporting every file 100 % covered.
import { register } from 'node:module'

await import('tsx')
// registered after tsx, so it runs first and sees what tsx compiled
register('./tsx-hooks.js', import.meta.url)
// Processes a test spawns (a server started with `node --import=tsx`) lack the hook: leave them
// out of coverage rather than miscount them. This process read the variable already.
if (process.env._TAPJS_PROCESSINFO_COVERAGE_ === '1') process.env._TAPJS_PROCESSINFO_COVERAGE_ = '0'
