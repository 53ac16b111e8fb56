/**
 * Logs for the plugin host. go-plugin reads the plugin's stderr line by line and re-logs each
 * JSON line with the level it names (client.go logStderr, log_entry.go): `@level`,
 * `@message`, `@timestamp` in the form 2006-01-02T15:04:05.000000Z07:00 (six fractional
 * digits: anything else makes the host log the raw line at debug), other keys as key/value
 * pairs. Argo's controller log then shows the plugin's lines at their own level.
 *
 * Never pass secrets (API keys, plugin config values) as fields.
 */

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const
export type LogLevel = typeof LEVELS[number]

export type LogFields = Record<string, string | number | boolean | undefined>

export interface LogSink { write: (line: string) => unknown }

/** hclog's timestamp: microseconds, UTC. */
export function hclogTimestamp (ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

export class PluginLogger {
  private readonly threshold: number

  constructor (
    private readonly sink: LogSink,
    level: LogLevel = 'info',
    private readonly module = 'agent-canary-gate',
    private readonly now: () => number = Date.now
  ) {
    this.threshold = LEVELS.indexOf(level)
  }

  trace (message: string, fields?: LogFields): void { this.log('trace', message, fields) }
  debug (message: string, fields?: LogFields): void { this.log('debug', message, fields) }
  info (message: string, fields?: LogFields): void { this.log('info', message, fields) }
  warn (message: string, fields?: LogFields): void { this.log('warn', message, fields) }
  error (message: string, fields?: LogFields): void { this.log('error', message, fields) }

  enabled (level: LogLevel): boolean {
    return LEVELS.indexOf(level) >= this.threshold
  }

  private log (level: LogLevel, message: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return
    const entry: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && !k.startsWith('@')) entry[k] = v
    entry['@level'] = level
    entry['@message'] = message
    entry['@module'] = this.module
    entry['@timestamp'] = hclogTimestamp(this.now())
    this.sink.write(`${JSON.stringify(entry)}\n`)
  }
}

export function parseLogLevel (value: string): LogLevel | undefined {
  const v = value.toLowerCase()
  return (LEVELS as readonly string[]).includes(v) ? v as LogLevel : undefined
}
