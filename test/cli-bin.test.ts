// The installed command's warning when, in a checkout, src/ was edited after dist/ was built: it runs old code.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'face-llava-bin-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A package folder with the real bin script, a stand-in dist/cli/main.js and one source file. */
function layout(): { bin: string; source: string; built: string } {
  const dir = mkdtempSync(join(root, 'pkg-'));
  for (const sub of ['bin', 'dist/cli', 'src/cli']) mkdirSync(join(dir, sub), { recursive: true });
  copyFileSync(resolve('bin/face-llava.js'), join(dir, 'bin/face-llava.js'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const built = join(dir, 'dist/cli/main.js');
  writeFileSync(built, "export async function main() { console.log('ran'); }\n");
  const source = join(dir, 'src/cli/main.ts');
  writeFileSync(source, 'export {};\n');
  return { bin: join(dir, 'bin/face-llava.js'), source, built };
}

describe('bin/face-llava.js', () => {
  it('warns when a source file is newer than the build, and runs anyway', async () => {
    const { bin, source, built } = layout();
    utimesSync(source, new Date(2000, 0, 1), new Date(2000, 0, 1));
    utimesSync(built, new Date(2001, 0, 1), new Date(2001, 0, 1));
    const fresh = await run(process.execPath, [bin]);
    expect(fresh.stdout).toBe('ran\n');
    expect(fresh.stderr).toBe('');
    utimesSync(source, new Date(2002, 0, 1), new Date(2002, 0, 1));
    const stale = await run(process.execPath, [bin]);
    expect(stale.stdout).toBe('ran\n');
    expect(stale.stderr).toMatch(/src\/ has changes newer than dist\/ — run `npm run build`/);
  });
});
