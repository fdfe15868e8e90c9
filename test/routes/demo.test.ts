import { test } from 'tap'
import { build } from '../helper.ts'

test('the demo page and its two assets are served at /', async (t) => {
  const app = await build(t)
  const page = await app.inject('/')
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /<script src="\/app\.js" type="module">/)
  t.match((await app.inject('/app.js')).headers['content-type'], /javascript/)
  t.match((await app.inject('/style.css')).headers['content-type'], /text\/css/)
})

test('unknown and escaping paths get the JSON 404, never a file outside public/', async (t) => {
  const app = await build(t)
  for (const url of ['/no-such-page.html', '/..%2fpackage.json', '/%2e%2e/package.json', '/public/app.js']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 404, url)
    t.same(Object.keys(res.json()).sort(), ['error', 'message', 'statusCode'], `${url}: the one error shape`)
  }
})
