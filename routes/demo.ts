// The demo chat page at / : static files from public/, /client.js among them. `npm run build`
// (scripts/build.ts) writes @switchboard/client bundled for the browser into dist/public/client.js,
// so the built server serves the page's script as a plain file and runs no bundler. Run from the
// TypeScript sources (tests, `npm run dev`), public/ has no client.js: the page's script is then
// bundled from client/src on first request, with the client build's options and esbuild, a dev dependency.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { BuildOptions } from 'esbuild'
import type { FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'
import { parseApiKeys } from '../config.ts'

const publicDir = fileURLToPath(new URL('../public', import.meta.url))
const fromSources = import.meta.url.endsWith('.ts')

let devBundle: Promise<string> | undefined

/** client/src bundled in memory (~20 ms), once per process: only when serving from the sources. */
function bundleFromSources (): Promise<string> {
  devBundle ??= (async () => {
    // not a literal import: the build neither compiles nor ships the client's build script
    const { clientBundle } = await import(new URL('../client/scripts/build.ts', import.meta.url).href) as { clientBundle: BuildOptions }
    const { build } = await import('esbuild')
    const result = await build({ ...clientBundle, write: false })
    return result.outputFiles[0].text
  })().catch((err) => { devBundle = undefined; throw err })
  return devBundle
}

export default async function demo (app: FastifyInstance) {
  // The operator dashboard (public/admin.*, at /admin) exists only when ADMIN_API_KEYS is set:
  // otherwise its files get no route and /admin is the JSON 404 of any unknown URL.
  const admin = parseApiKeys(app.config.ADMIN_API_KEYS).length > 0
  await app.register(fastifyStatic, {
    root: publicDir,
    prefix: '/',
    // One route per file (no /* wildcard), so unknown URLs still get the JSON 404.
    wildcard: false,
    index: 'index.html',
    globIgnore: admin ? undefined : ['admin.*'],
    // Hidden from the OpenAPI document: it is a page, not part of the API.
    schemaHide: true
  })

  if (admin) app.get('/admin', { schema: { hide: true } }, (_request, reply) => reply.sendFile('admin.html'))

  if (fromSources && !existsSync(`${publicDir}/client.js`)) {
    app.get('/client.js', { schema: { hide: true } }, async (_request, reply) => {
      return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(await bundleFromSources())
    })
  }
}
