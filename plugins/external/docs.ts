// OpenAPI 3 generated from the routes' TypeBox schemas: the document at /docs/json, the UI at /docs.
// Registered before any route, so swagger's onRoute hook sees every route, including later ones.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { ErrorResponse } from '../../schemas/http.ts'
import { Message, Position } from '../../schemas/message.ts'
import { clientEventTypes, topics } from '../../schemas/topics.ts'
import { CloseCodes, ErrorCodes, PingFrame, PROTOCOL_VERSION, ServerFrame, SubscribeFrame, UnsubscribeFrame } from '../../fanout/protocol.ts'

/** Shapes with an $id that become named components; a route answering one gets a $ref to it. */
const components = [ErrorResponse, Message, Position]
const named = new Set(components.map((s) => s.$id))

/** What each error status means across the API (DESIGN.md), so no response reads "Default Response". */
const statusMeaning: Record<string, string> = {
  400: 'bad input: the message names the field',
  401: 'no token or a bad one',
  403: 'not allowed',
  404: 'not found',
  409: 'conflict',
  413: 'body too large (BODY_LIMIT)',
  415: 'a body in a media type other than application/json',
  422: 'refused by moderation',
  429: 'rate limited: RATE_LIMIT_MAX writes per RATE_LIMIT_WINDOW, when rate limits are on (see retry-after)',
  503: 'a dependency is down, or the instance is shutting down: nothing was accepted, retry later'
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/**
 * The statuses Fastify and the plugins around a route answer whatever its handler does, added to
 * every operation by rule so that none can forget one: 503 (every route, while the instance shuts
 * down; routes also when a dependency is down), 400 and 414 (path parameters: the schema, then the
 * router's limit), 400 (query strings), 400, 413 and 415 (any method that may carry a body: bad JSON,
 * BODY_LIMIT, a media type with no parser), 429 (writes under /api/: plugins/external/rate-limit.ts).
 */
function frameworkStatuses (method: string, url: string, schema: { querystring?: unknown }): number[] {
  const codes = new Set([503])
  if (url.includes('/:')) { codes.add(400); codes.add(414) }
  if (schema.querystring) codes.add(400)
  if (BODY_METHODS.has(method)) {
    for (const code of [400, 413, 415]) codes.add(code)
    // the server API is exempt from the per-user write limit (routes/server.ts)
    if (url.startsWith('/api/') && !url.startsWith('/api/server/')) codes.add(429)
  }
  return [...codes].sort((a, b) => a - b)
}

const websocket = `
## WebSocket protocol (v1)

Real-time events arrive over a WebSocket: \`ws://host:WS_PORT/ws\` (uWebSockets.js) or \`/ws\` on this
API port (same protocol). Pass \`?token=<JWT>\` when auth is on (\`?user=<id>\` with auth off). Every
frame is a JSON object with an \`op\`:

| direction | frame |
| --- | --- |
| client → server | \`{"op":"subscribe","channel":"general","since":{"epoch":"…","offset":"41"}}\` (\`since\` optional) |
| client → server | \`{"op":"unsubscribe","channel":"general"}\`, \`{"op":"ping"}\` |
| server → client | \`{"op":"ready","protocol":1,"connectionId":"…","user":"…"}\` |
| server → client | \`{"op":"subscribed","channel","position","recovered"}\` |
| server → client | \`{"op":"event","channel","position","type","data"}\` |
| server → client | \`{"op":"error","code","message"}\`, \`{"op":"pong"}\` |

Event types (from the topic catalogue, schemas/topics.ts): ${clientEventTypes.map((t) => `\`${t}\``).join(', ')}. Resubscribe with
\`since\` = the last position seen: \`recovered: true\` means every missed event was replayed;
\`recovered: false\` means reload history over HTTP. Error and close codes (4008: slow client) are
listed in fanout/README.md and, with the frames' JSON schemas, in this document's \`x-websocket\` section (/docs/json).
`

export default fp(async function docs (app) {
  const maxParamLength = app.initialConfig.routerOptions?.maxParamLength ?? 100
  const describe = (code: string) => code === '414' ? `a path parameter over ${maxParamLength} characters (ids the schemas allow are far shorter)` : statusMeaning[code]
  // Shared shapes become named components ($id), referenced by every route that uses them.
  for (const schema of components) app.addSchema(schema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'switchboard',
        version: '1',
        description: `Real-time chat backend: HTTP API for writes and history, WebSocket fanout for live events.
Errors always have the shape \`ErrorResponse\` \`{statusCode, error, message}\`; \`message\` names what was wrong.
With auth on, send \`Authorization: Bearer <JWT>\`; with auth off, \`x-user-id\` / \`x-user-name\` headers name the caller.
${websocket}`
      },
      tags: [
        { name: 'messages', description: 'Post, edit, delete and page through messages' },
        { name: 'reactions', description: 'Emoji reactions to messages' },
        { name: 'pins', description: 'Pinned messages of a channel (at most PINS_MAX)' },
        { name: 'channels', description: 'Channels and their members' },
        { name: 'presence', description: 'Who is here, who is typing (ephemeral)' },
        { name: 'operations', description: 'Health, readiness, metrics' }
      ],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }
      },
      // A bearer token when auth is on (JWT_SECRET / JWT_PUBLIC_KEY); nothing when it is off.
      security: [{ bearer: [] }, {}],
      // OpenAPI has no WebSocket operations: the protocol is described here, for tools and readers.
      'x-websocket': {
        paths: { api: '/ws on this port (@fastify/websocket)', uws: '/ws on WS_PORT (uWebSockets.js)' },
        query: { token: 'JWT, when auth is on', user: 'user id, when auth is off (development only)' },
        protocol: PROTOCOL_VERSION,
        // The protocol's own schemas (fanout/protocol.ts), so this never drifts from the server.
        clientFrames: [SubscribeFrame, UnsubscribeFrame, PingFrame],
        serverFrames: ServerFrame,
        eventTypes: clientEventTypes,
        // The log's topics (schemas/topics.ts), for services that consume or produce them directly.
        topics: Object.values(topics).map(({ name, key, positioned, clientEvents, description, schema }) => ({ name, key, positioned, clientEvents, description, schema })),
        errorCodes: ErrorCodes,
        closeCodes: CloseCodes,
        reference: 'fanout/README.md'
      }
    } as Record<string, unknown>,
    // Components keep their $id as name (ErrorResponse, Message, Position) instead of def-N.
    // swagger inlines a route's top-level response schema even when it has an $id: point it to the component.
    // Every operation also lists what the framework around it answers (frameworkStatuses).
    transform: ({ schema, url, route }) => {
      if (!schema || schema.hide) return { schema, url }
      const declared = (schema.response ?? {}) as Record<string, { $id?: string }>
      const methods = [route.method].flat().filter((m) => m !== 'HEAD')
      const added = Object.fromEntries(methods.flatMap((m) => frameworkStatuses(m, route.url, schema))
        .filter((code) => !(code in declared)).map((code) => [code, ErrorResponse]))
      const response = Object.fromEntries(Object.entries({ ...declared, ...added })
        .map(([code, s]) => [code, s.$id && named.has(s.$id) ? { $ref: `${s.$id}#`, description: describe(code) ?? `a ${s.$id}` } : s]))
      return { schema: { ...schema, response }, url }
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } })
}, { name: 'docs' })
