import { test, type Test } from 'tap'
import Fastify, { type RouteOptions } from 'fastify'
import SwaggerParser from '@apidevtools/swagger-parser'
import App, { serverOptions } from '../../app.ts'
import { loadConfig } from '../../config.ts'

/** The app, with every route it registers recorded (the same hook swagger relies on). */
async function appWithRoutes (t: Test) {
  const config = loadConfig({}, { PORT: 0, WS_PORT: 0, LOG_LEVEL: 'silent' })
  const app = Fastify({ ...serverOptions(config), logger: false })
  const routes: RouteOptions[] = []
  app.addHook('onRoute', (route) => { routes.push(route) })
  await app.register(App, { config })
  await app.ready()
  t.teardown(() => app.close())
  return { app, routes }
}

test('/docs/json is a valid OpenAPI 3 document that lists every route', async (t) => {
  const { app, routes } = await appWithRoutes(t)
  const res = await app.inject('/docs/json')
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.match(doc.openapi, /^3\./)
  // swagger-parser dereferences in place: validate a copy.
  await t.resolves(SwaggerParser.validate(structuredClone(doc)), 'valid against the OpenAPI 3 schema')

  // Hidden routes are the docs UI, the static demo page and /ws (documented in info.description).
  const expected = routes
    .filter((r) => !(r.schema as { hide?: boolean } | undefined)?.hide)
    .flatMap((r) => [r.method].flat().filter((m) => m !== 'HEAD').map((m) => `${m.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`))
  const documented = Object.entries<Record<string, unknown>>(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
  t.ok(expected.length >= 5, `routes were recorded (${expected.length})`)
  t.same(documented.sort(), [...new Set(expected)].sort(), 'every visible route is documented, and nothing else')
})

test('every operation is described: tags, summary, a success response, and errors in the one shape', async (t) => {
  const { app } = await appWithRoutes(t)
  const doc = (await app.inject('/docs/json')).json()
  t.ok(doc.components.schemas.ErrorResponse, 'ErrorResponse is a named component')
  t.same(doc.components.schemas.ErrorResponse.required.sort(), ['error', 'message', 'statusCode'])
  t.match(doc.info.description, /WebSocket protocol/, 'the WebSocket protocol is described beside the API')
  const ws = doc['x-websocket']
  t.same(ws?.clientFrames?.map((f: any) => f.properties.op.const), ['subscribe', 'unsubscribe', 'ping'], 'client frames, as schemas')
  t.ok(ws?.errorCodes?.bad_json && ws?.closeCodes?.SLOW_CONSUMER === 4008, 'error and close codes')
  for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      const name = `${method.toUpperCase()} ${path}`
      t.ok(op.summary, `${name} has a summary`)
      t.ok(op.tags?.length, `${name} has a tag`)
      const codes = Object.keys(op.responses ?? {})
      t.ok(codes.some((c) => /^2\d\d$/.test(c)), `${name} describes its success response (${codes.join(', ')})`)
      // Input can be wrong: the 400 must be documented, in the ErrorResponse shape.
      if (op.parameters?.length || op.requestBody) {
        const bad = op.responses?.['400']?.content?.['application/json']?.schema
        t.equal(bad?.$ref, '#/components/schemas/ErrorResponse', `${name} documents its 400 as ErrorResponse`)
      }
      for (const code of codes.filter((c) => /^[45]\d\d$/.test(c) && !(path === '/ready' && c === '503'))) {
        t.equal(op.responses[code].content?.['application/json']?.schema?.$ref, '#/components/schemas/ErrorResponse', `${name} ${code} is an ErrorResponse`)
      }
    }
  }
})

test('the interactive UI is served at /docs', async (t) => {
  const { app } = await appWithRoutes(t)
  const res = await app.inject('/docs')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger-ui/i)
})
