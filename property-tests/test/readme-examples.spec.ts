import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The code between the README markers of a package's `test/readme.spec.ts`, dedented. */
const testedSnippet = (pkg: string): string => {
  const source = readFileSync(new URL(`../../packages/${pkg}/test/readme.spec.ts`, import.meta.url), 'utf8');
  const body = source.split('// README:start\n')[1]?.split('// README:end')[0] ?? '';
  const lines = body.split('\n').filter((l, i, all) => i < all.length - 1 || l.trim() !== '');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return lines
    .map((l) => l.slice(indent))
    .join('\n')
    .trimEnd();
};

describe('every package README shows an example that a test runs', () => {
  for (const pkg of ['platform', 'iommu', 'dma-mapping', 'dma-buf']) {
    it(`${pkg}: the README's example is exactly test/readme.spec.ts`, () => {
      const readme = readFileSync(new URL(`../../packages/${pkg}/README.md`, import.meta.url), 'utf8');
      const snippet = testedSnippet(pkg);
      expect(snippet.length).toBeGreaterThan(100);
      expect(readme).toContain(snippet);
    });
  }
});
