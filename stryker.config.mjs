/**
 * npm run mutate: mutation testing with StrykerJS (docs/testing.md "Mutation testing"). Each
 * target file lists the test files that pin it; Stryker runs, for every mutant, only those of
 * them that reach its code (coverage per test file), in-process test files only (a gate in a
 * child process is not instrumented). The report goes to reports/mutation/ (HTML and JSON).
 */
const targets = {
  'src/http/auth.ts': ['test/http/auth.test.ts', 'test/http/security.test.ts', 'test/http/config.test.ts'],
  // GATE_API_KEYS parsing, moved out of src/http/auth.ts (config/ imports nothing from http/).
  'src/config/api-keys.ts': ['test/http/auth.test.ts', 'test/http/security.test.ts', 'test/http/config.test.ts'],
  // The verdict-to-phase mapping of the Argo metric plugin (GateMetricProvider.run and its Error measurement).
  'src/plugin/provider.ts': ['test/plugin/provider.test.ts', 'test/plugin/provider-mapping.test.ts'],
  // Phase 2 of issue 21, once the judge and the keyed chain have landed:
  // 'src/gate/**/*.ts': ['test/gate/*.test.ts'],
  // 'src/evidence/chain.ts': ['test/evidence/store.test.ts'],
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  tap: {
    testFiles: [...new Set(Object.values(targets).flat())],
    // Test files run as plain node scripts, TypeScript through tsx as under tap (@tapjs/tsx).
    nodeArgs: ['--import', 'tsx'],
  },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutate: Object.keys(targets),
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false },
  thresholds: { high: 90, low: 80, break: 90 },
  concurrency: 2,
  timeoutMS: 30_000,
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'dist-plugin', 'reports', '.bench', '.tap', 'data', '.scratch', 'coverage'],
}
