import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One vitest project per package, example and the property suite, discovered from the workspace.
const dirs = [
  ...readdirSync('packages').map((d) => `packages/${d}`),
  ...readdirSync('examples').map((d) => `examples/${d}`),
  'property-tests',
];

// CI asks for a JSON report (to print its closing `N passed, N failed` line) through the environment,
// so that it runs exactly the README's test command.
const jsonReport = process.env.SHAREDBUF_TEST_REPORT;

export default defineConfig({
  test: {
    ...(jsonReport ? { reporters: ['default', 'json'], outputFile: { json: jsonReport } } : {}),
    projects: dirs.map((root) => ({
      extends: true,
      test: { name: root, root, include: ['test/**/*.spec.ts', 'src/**/*.spec.ts'] },
    })),
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
