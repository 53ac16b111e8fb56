/**
 * Keeps the gate's upstream credentials out of its own errors: an upstream (or a proxy in
 * front of it) may echo the key or token it was sent in an error text the gate repeats.
 */

/** `text` with every occurrence of a secret replaced by `[redacted]`. */
export function scrub (text: string, secrets: readonly string[]): string {
  let out = text
  // Very short values would redact ordinary words; real keys are long.
  for (const s of secrets) if (s.length >= 4) out = out.replaceAll(s, '[redacted]')
  return out
}
