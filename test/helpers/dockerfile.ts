/**
 * Reading a Dockerfile and a .dockerignore the way Docker does, for the instructions the
 * project's Dockerfile uses (FROM ... AS, WORKDIR, COPY [--from], RUN, USER, EXPOSE, ENV,
 * ENTRYPOINT/CMD in exec form), so a test can stage the build without a Docker engine.
 */

export interface Instruction { keyword: string, args: string, line: number }

export interface Copy { from?: string, sources: string[], dest: string, line: number }

export interface Stage {
  name?: string
  image: string
  workdir: string
  instructions: Instruction[]
  copies: Copy[]
  runs: string[]
  user?: string
  entrypoint?: string[]
  cmd?: string[]
  expose: number[]
}

/** Instructions with continuation lines joined and comments dropped. */
export function instructions (text: string): Instruction[] {
  const out: Instruction[] = []
  let pending = ''
  let start = 0
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (pending === '' && (line === '' || line.startsWith('#'))) return
    if (pending === '') start = i + 1
    if (line.startsWith('#')) return
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `
      return
    }
    const full = pending + line
    pending = ''
    const m = /^(\w+)\s+(.*)$/.exec(full)
    if (m === null) throw new Error(`Dockerfile line ${start}: cannot read '${full}'`)
    out.push({ keyword: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: start })
  })
  return out
}

function execForm (args: string, what: string): string[] {
  const parsed = JSON.parse(args) as unknown
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new Error(`${what} must be in exec form (a JSON array), got ${args}`)
  return parsed
}

export function stages (text: string): Stage[] {
  const out: Stage[] = []
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)
      if (m === null) throw new Error(`line ${ins.line}: FROM ${ins.args}`)
      const stage: Stage = { image: m[1] as string, workdir: '/', instructions: [], copies: [], runs: [], expose: [] }
      if (m[2] !== undefined) stage.name = m[2]
      out.push(stage)
      continue
    }
    const stage = out.at(-1)
    if (stage === undefined) throw new Error(`line ${ins.line}: ${ins.keyword} before FROM`)
    stage.instructions.push(ins)
    switch (ins.keyword) {
      case 'WORKDIR': stage.workdir = ins.args.startsWith('/') ? ins.args : `${stage.workdir.replace(/\/$/, '')}/${ins.args}`; break
      case 'COPY': case 'ADD': {
        const words = ins.args.split(/\s+/)
        const flags = words.filter((w) => w.startsWith('--'))
        const paths = words.filter((w) => !w.startsWith('--'))
        const copy: Copy = { sources: paths.slice(0, -1), dest: paths.at(-1) as string, line: ins.line }
        const from = flags.find((f) => f.startsWith('--from='))
        if (from !== undefined) copy.from = from.slice('--from='.length)
        stage.copies.push(copy)
        break
      }
      case 'RUN': stage.runs.push(ins.args); break
      case 'USER': stage.user = ins.args; break
      case 'EXPOSE': stage.expose.push(...ins.args.split(/\s+/).map((p) => Number.parseInt(p, 10))); break
      case 'ENTRYPOINT': stage.entrypoint = execForm(ins.args, 'ENTRYPOINT'); break
      case 'CMD': stage.cmd = execForm(ins.args, 'CMD'); break
    }
  }
  return out
}

/** A .dockerignore as a function: is this context-relative path left out of the build context? */
export function dockerignore (text: string): (path: string) => boolean {
  const rules = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!')
    const pattern = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '')
    const source = pattern.split('/').map((part) => part === '**'
      ? '.*'
      : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('/')
    return { negate, regex: new RegExp(`^${source.replace(/\.\*\//g, '(?:.*/)?')}$`) }
  })
  return (path: string) => {
    const clean = path.replace(/^\.\//, '').replace(/\/+$/, '')
    const parts = clean.split('/')
    // A path is excluded when it or a directory above it matches; the last matching rule wins.
    let excluded = false
    for (const rule of rules) {
      for (let i = 1; i <= parts.length; i++) {
        if (rule.regex.test(parts.slice(0, i).join('/'))) {
          excluded = !rule.negate
          break
        }
      }
    }
    return excluded
  }
}
