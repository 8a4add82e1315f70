// The package's entry points, as a user imports them: built output resolved through package.json `exports`.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; exports: Record<string, unknown> };

describe('package entry points', () => {
  it('keeps the version in one place', async () => {
    const { VERSION } = await import('../src/version.js');
    expect(VERSION).toBe(pkg.version);
  });

  it.runIf(existsSync(join(root, 'dist/index.js')))('resolves every subpath export to a module with exports', () => {
    const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');
    // Import by package name from a child process, as a dependent project would (self-reference via exports).
    const script = `const names = ${JSON.stringify(subpaths)};
      for (const s of names) { const m = await import('face-llava' + s.slice(1)); if (Object.keys(m).length === 0) throw new Error(s + ' is empty'); }
      console.log('ok');`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(out.trim()).toBe('ok');
  });
});
