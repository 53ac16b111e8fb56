// The project's lint: neostandard (standard style, which the code keeps) with its TypeScript rules.
// `npm test` runs it first (`npm run lint`, cached in .eslintcache). Generated folders are never
// linted: neostandard reads .gitignore (dist/, reports/, .stryker-tmp/, ...) and the list below.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'dist-plugin/**', 'reports/**', 'coverage/**', '.stryker-tmp/**', '.bench/**', '.scratch/**', 'test/**/bin/**'],
  }),
  {
    rules: {
      // The width the code keeps. Strings, template literals and regular expressions may run past
      // it: messages and Grafana/PromQL text read better unbroken than split into concatenations.
      '@stylistic/max-len': ['error', { code: 200, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true }],
      // `void promise()` as a statement marks a promise deliberately not awaited (a fire-and-forget
      // write, a callback API that takes no promise); the expression form stays refused.
      'no-void': ['error', { allowAsStatement: true }],
      // Promise executors are named for what they wait on (`(done) =>`, `(closed) =>`), not `resolve`.
      'promise/param-names': 'off',
    },
  },
  {
    // These match ANSI colour escapes (ESC [ ... m) on purpose.
    files: ['src/cli/table.ts', 'test/cli/cli.test.ts'],
    rules: { 'no-control-regex': 'off' },
  },
  {
    files: ['test/**'],
    rules: {
      // Tests hold Grafana and Argo text whose `${...}` are that tool's variables, not JavaScript's.
      'no-template-curly-in-string': 'off',
    },
  },
]
