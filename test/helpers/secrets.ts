/** Scans captured logs and response bodies for secrets. */

/** The lines that hold a secret, each shortened around it (the secret itself shown as its length). */
export function leaks (lines: string[], secrets: string[]): string[] {
  const out: string[] = []
  for (const line of lines) {
    for (const secret of secrets) {
      const at = line.indexOf(secret)
      if (at !== -1) out.push(`${line.slice(Math.max(0, at - 120), at)}<secret of ${secret.length} chars>${line.slice(at + secret.length, at + secret.length + 60)}`)
    }
  }
  return out
}
