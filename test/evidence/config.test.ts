import t from 'tap'
import { readConfig } from '../../src/config/env.js'
import { GateError } from '../../src/errors.js'

function refusal (fn: () => unknown): GateError {
  try { fn() } catch (err) { if (err instanceof GateError) return err; throw err }
  throw new Error('expected a refusal')
}

t.test('DATA_DIR, EVIDENCE_URL, EVIDENCE_RETENTION_DAYS', async (t) => {
  t.match(readConfig({}), { evidence: { kind: 'sqlite', dataDir: 'data' }, retentionDays: 90 }, 'default: SQLite in ./data, 90 days')
  t.match(readConfig({ DATA_DIR: '/var/lib/gate' }), { evidence: { kind: 'sqlite', dataDir: '/var/lib/gate' } })
  t.match(readConfig({ EVIDENCE_URL: 'postgres://gate:pw@db:5432/evidence', DATA_DIR: '/x' }), { evidence: { kind: 'postgres', url: 'postgres://gate:pw@db:5432/evidence' } }, 'EVIDENCE_URL wins over DATA_DIR')
  t.match(readConfig({ EVIDENCE_URL: 'none' }), { evidence: { kind: 'none' } })
  t.match(readConfig({ EVIDENCE_RETENTION_DAYS: '7' }), { retentionDays: 7 })
  const bad = refusal(() => readConfig({ EVIDENCE_URL: 'mysql://root:hunter2@db/evidence' }))
  t.match(bad.message, /^EVIDENCE_URL: must be a PostgreSQL URL/)
  t.notMatch(bad.message, /hunter2/, 'the password is not echoed')
  t.match(refusal(() => readConfig({ EVIDENCE_RETENTION_DAYS: '0' })).message, /^EVIDENCE_RETENTION_DAYS: must be a whole number from 1/)
})
