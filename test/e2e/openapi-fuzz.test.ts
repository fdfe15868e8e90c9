// The OpenAPI document is what the server does: schemathesis (PyPI; scripts/fuzz-setup.sh installs
// it) generates requests from /docs/json, valid and not, against an embedded instance with rate
// limits off, and checks every answer against the document: statuses, schemas, content types, 405s
// for undeclared methods, invalid input refused, valid input accepted, and, in stateful sequences,
// that a resource just created is there (`ensure_resource_availability`: read-your-writes for the
// author, plugins/recent-messages) and one deleted is gone (`use_after_free`). Every check is on:
// any failure fails this test, but for the one exception schemathesis.toml (beside this file) argues.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { build } from '../helper.ts'

const servicesHome = process.env.SWITCHBOARD_SERVICES_HOME || join(homedir(), '.cache', 'switchboard-services')
const schemathesis = process.env.SCHEMATHESIS || join(servicesHome, 'venv', 'bin', 'schemathesis')

function run (args: string[], cwd: string): Promise<{ code: number, output: string }> {
  return new Promise((resolve) => {
    execFile(schemathesis, args, { cwd, timeout: 100_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1', PYTHONIOENCODING: 'utf-8' } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, output: `${stdout}${stderr}` }))
  })
}

t.test('schemathesis finds nothing the document does not say', async (t) => {
  if (!existsSync(schemathesis)) {
    const reason = `schemathesis not found at ${schemathesis}; run scripts/fuzz-setup.sh`
    if (process.env.REQUIRE_SERVICES === '1') return t.fail(`${reason} (REQUIRE_SERVICES=1)`)
    console.log(`# skipping: ${reason}`)
    return t.plan(0, reason)
  }
  // one key for the server and the admin APIs, sent with every request (other routes ignore it)
  const apiKey = 'fuzz-key-0123456789abcdefghijkl'
  const app = await build(t, { RATE_LIMIT_MAX: 0, SERVER_API_KEYS: apiKey, ADMIN_API_KEYS: apiKey })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const doc = (await app.inject('/docs/json')).json()
  const operations = Object.values<Record<string, unknown>>(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0)

  const { code, output } = await run([
    '--config-file', fileURLToPath(new URL('./schemathesis.toml', import.meta.url)),
    'run', `${base}/docs/json`,
    // every check: schemathesis's default (a `--checks` option here would override schemathesis.toml)
    // bounded and reproducible: a few seconds on this machine
    '--max-examples', '30', '--seed', '20261129', '--workers', '1',
    '--generation-database', 'none', '--request-timeout', '10', '--no-color',
    // with auth off, this header names the caller, so writes get past the 401
    '--header', 'x-user-id: fuzzer',
    '--header', `x-api-key: ${apiKey}`
  ], t.testdir())

  const failures = output.slice(Math.max(0, output.indexOf('FAILURES')))
  t.equal(code, 0, 'schemathesis exits 0', code === 0 ? {} : { diagnostic: true, output: failures.slice(0, 20_000) })
  t.match(output, new RegExp(`Tested: ${operations}\\b`), `all ${operations} operations of the document were tested`)
  t.notMatch(output, /Failures:/, 'no failure in the summary')
})
