// The demo chat page at / : static files from public/, no build step. It uses only the public API.
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'

export default async function demo (app: FastifyInstance) {
  await app.register(fastifyStatic, {
    root: fileURLToPath(new URL('../public', import.meta.url)),
    prefix: '/',
    // One route per file (no /* wildcard), so unknown URLs still get the JSON 404.
    wildcard: false,
    index: 'index.html',
    // Hidden from the OpenAPI document: it is a page, not part of the API.
    schemaHide: true
  })
}
