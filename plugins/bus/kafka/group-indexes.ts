/** The indexes of `list`, grouped by `keyOf`, each group in list order. */
export function groupIndexes<T, K> (list: readonly T[], keyOf: (item: T) => K): Map<K, number[]> {
  const groups = new Map<K, number[]>()
  list.forEach((item, i) => {
    const key = keyOf(item)
    const group = groups.get(key)
    if (group) group.push(i)
    else groups.set(key, [i])
  })
  return groups
}
