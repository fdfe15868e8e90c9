// npm run build: everything `node dist/server.js` serves, written to dist/ (or the folder given as the
// first argument): the server compiled by tsc, the demo page's static files, and @switchboard/client
// bundled for the browser as public/client.js, the module the page imports: the package's own
// index.js, bundled with the package's options (client/scripts/build.ts). The production process
// runs no bundler: the page's script is a file of the build like the rest (the Docker image copies
// dist/ whole).
import { spawnSync } from 'node:child_process'
import { cpSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'
import { clientBundle } from '../client/scripts/build.ts'

const root = join(import.meta.dirname, '..')
const out = resolve(process.argv[2] ?? join(root, 'dist'))

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  rmSync(out, { recursive: true, force: true })
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' })
  if (compiled.status !== 0) process.exit(compiled.status ?? 1)
  cpSync(join(root, 'public'), join(out, 'public'), { recursive: true })
  await build({ ...clientBundle, outfile: join(out, 'public/client.js'), logLevel: 'warning' })
  console.log(`built ${out}: server, public/ and public/client.js`)
}
