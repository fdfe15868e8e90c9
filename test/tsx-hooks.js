// Load hook for test/tsx.js: drops the empty `sourcesContent` from the inline source map of each
// module tsx compiled, so coverage reads the TypeScript from its file and maps every statement.
const marker = '//# sourceMappingURL=data:application/json;base64,'

export async function load (url, context, nextLoad) {
  const result = await nextLoad(url, context)
  if (!url.startsWith('file:') || url.includes('/node_modules/') || result.source == null) return result
  const source = typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8')
  const at = source.lastIndexOf(marker)
  if (at === -1) return result
  const map = JSON.parse(Buffer.from(source.slice(at + marker.length).trim(), 'base64').toString('utf8'))
  if (!Array.isArray(map.sourcesContent) || map.sourcesContent.some((text) => text != null)) return result
  delete map.sourcesContent
  return { ...result, source: `${source.slice(0, at)}${marker}${Buffer.from(JSON.stringify(map)).toString('base64')}\n` }
}
