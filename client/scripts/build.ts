// npm run build, and prepack (so `npm pack` and `npm publish` build): the files the package ships.
// dist/index.js is one ES module for browsers and Node alike (Node callers pass `ws`): the bundle the
// server's build also writes for the demo page, with these options (clientBundle). dist/index.d.ts
// holds every type the package exports, the server's schemas and TypeBox's own types inlined, so it
// needs nothing outside the package: the client imports the server type-only (but for
// schemas/channel-kinds.ts, which imports nothing and is bundled), and the d.ts bundler follows
// those imports wherever they lead.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { build, type BuildOptions } from 'esbuild'

const client = join(import.meta.dirname, '..')
const entry = join(client, 'src/index.ts')

/** The client bundled into one ESM file; type-only imports of the server's schemas vanish. */
export const clientBundle: BuildOptions = {
  entryPoints: [entry],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  legalComments: 'none'
}

/** The exported types as one declaration file. */
export async function clientTypes (): Promise<string> {
  // imported here: it loads the TypeScript compiler, which the demo page's bundle does not need
  const { generateDtsBundle } = await import('dts-bundle-generator')
  const [types] = generateDtsBundle([{
    filePath: entry,
    libraries: { inlinedLibraries: ['@sinclair/typebox'] },
    // exported: what index.ts exports, not every type it refers to (the server's schema names
    // would otherwise collide with the client's own Message, Channel, …)
    output: { noBanner: true, exportReferencedTypes: false }
  }], { preferredConfigPath: join(client, '..', 'tsconfig.json') })
  return types
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const dist = join(client, 'dist')
  rmSync(dist, { recursive: true, force: true })
  mkdirSync(dist)
  await build({ ...clientBundle, outfile: join(dist, 'index.js'), logLevel: 'warning' })
  writeFileSync(join(dist, 'index.d.ts'), await clientTypes())
  console.log(`built ${dist}: index.js and index.d.ts`)
}
