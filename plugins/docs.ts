// OpenAPI 3 generated from the routes' TypeBox schemas: the document at /docs/json, the UI at /docs.
// Registered before any route, so swagger's onRoute hook sees every route, including later ones.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { ErrorResponse } from '../schemas/http.ts'
import { Message, Position } from '../schemas/message.ts'
import { clientEventTypes, topics } from '../schemas/topics.ts'
import { CloseCodes, ErrorCodes, PingFrame, PROTOCOL_VERSION, ServerFrame, SubscribeFrame, UnsubscribeFrame } from '../fanout/protocol.ts'

/** Shapes with an $id that become named components; a route answering one gets a $ref to it. */
const components = [ErrorResponse, Message, Position]
const named = new Set(components.map((s) => s.$id))

/** What each error status means across the API (DESIGN.md), so no response reads "Default Response". */
const statusMeaning: Record<string, string> = {
  400: 'bad input: the message names the field', 401: 'no token or a bad one', 403: 'not allowed',
  404: 'not found', 409: 'conflict', 413: 'body too large', 429: 'rate limited (see retry-after)',
  503: 'a dependency is down: nothing was accepted, retry later'
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
    transform: ({ schema, url }) => {
      if (!schema?.response) return { schema, url }
      const response = Object.fromEntries(Object.entries(schema.response as Record<string, { $id?: string }>)
        .map(([code, s]) => [code, s.$id && named.has(s.$id) ? { $ref: `${s.$id}#`, description: statusMeaning[code] ?? `a ${s.$id}` } : s]))
      return { schema: { ...schema, response }, url }
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } })
}, { name: 'docs' })
