import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One vitest project per package, example and the property suite, discovered from the workspace.
const dirs = [
  ...readdirSync('packages').map((d) => `packages/${d}`),
  ...readdirSync('examples').map((d) => `examples/${d}`),
  'property-tests',
];

export default defineConfig({
  test: {
    projects: dirs.map((root) => ({
      extends: true,
      test: { name: root, root, include: ['test/**/*.spec.ts', 'src/**/*.spec.ts'] },
    })),
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
