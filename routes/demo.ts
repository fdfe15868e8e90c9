// The demo chat page at / : static files from public/, and /client.js, @switchboard/client built for
// the browser (one ESM file) once per process, on first request. The page has no protocol code of its own.
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'
import { parseApiKeys } from '../config.ts'

let clientBundle: Promise<string> | undefined

/** client/src bundled by esbuild (type-only imports of the server's schemas vanish): ~20 ms, in memory. */
function buildClient (): Promise<string> {
  clientBundle ??= import('esbuild').then(async ({ build }) => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../client/src/index.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      target: 'es2022',
      platform: 'browser',
      write: false,
      legalComments: 'none'
    })
    return result.outputFiles[0].text
  }).catch((err) => { clientBundle = undefined; throw err })
  return clientBundle
}

export default async function demo (app: FastifyInstance) {
  // The operator dashboard (public/admin.*, at /admin) exists only when ADMIN_API_KEYS is set:
  // otherwise its files get no route and /admin is the JSON 404 of any unknown URL.
  const admin = parseApiKeys(app.config.ADMIN_API_KEYS).length > 0
  await app.register(fastifyStatic, {
    root: fileURLToPath(new URL('../public', import.meta.url)),
    prefix: '/',
    // One route per file (no /* wildcard), so unknown URLs still get the JSON 404.
    wildcard: false,
    index: 'index.html',
    globIgnore: admin ? undefined : ['admin.*'],
    // Hidden from the OpenAPI document: it is a page, not part of the API.
    schemaHide: true
  })

  if (admin) app.get('/admin', { schema: { hide: true } }, (_request, reply) => reply.sendFile('admin.html'))

  app.get('/client.js', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(await buildClient())
  })
}
