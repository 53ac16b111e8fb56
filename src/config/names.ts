/** Suggestions for misspelt names: keys, signals, stages, enum values. */

/** "unknown signal 'deny_rat'; did you mean 'deny_rate'? (known: ...)" */
export function unknownName (what: string, name: string, known: string[]): string {
  const hint = closest(name, known)
  return `unknown ${what} '${name}'${hint === undefined ? '' : `; did you mean '${hint}'?`} (known: ${known.join(', ')})`
}

/** The known name closest to `name` by edit distance, if it is close enough to be a typo. */
export function closest (name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const d = editDistance(name, candidate)
    if (d < bestDistance) { best = candidate; bestDistance = d }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined
}

function editDistance (a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost)
    }
    prev = cur
  }
  return prev[b.length] as number
}
