// Process entry: configuration, logger, graceful shutdown, listen.
import Fastify from 'fastify'
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config } from './config.ts'
import app, { serverOptions } from './app.ts'
import { loggerOptions } from './logger.ts'

let config: Config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`switchboard: ${err.message}`)
  process.exit(1)
}

const server = Fastify({
  ...serverOptions(config),
  logger: loggerOptions(config)
})

await server.register(app, { config })

closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: server.log }, async ({ signal, err }) => {
  if (err) server.log.error({ err }, 'shutting down after an error')
  else server.log.info({ signal }, 'shutting down')
  await server.close()
})

try {
  await server.listen({ host: config.HOST, port: config.PORT })
  const roles = [...server.roles].join(',')
  const fanout = server.roles.has('fanout') ? `, fanout ws://localhost:${server.fanout.uwsPort}/ws (and ws://localhost:${config.PORT}/ws)` : ''
  server.log.info(`switchboard ready (${roles}): ${server.roles.has('api') ? 'API' : 'health, readiness and metrics on'} http://localhost:${config.PORT}${fanout}`)
} catch (err) {
  server.log.error({ err }, 'could not start')
  process.exit(1)
}
