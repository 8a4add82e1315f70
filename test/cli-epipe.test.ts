// The command line ends quietly when the reader of its output goes away (`face-llava … | head -1`), as Unix tools
// do: no EPIPE stack trace, exit code 0.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'face-llava-epipe-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the CLI with a reader that stops reading', () => {
  // The CLI from its TypeScript sources (bin/face-llava.js runs the compiled one), with the bin's error handling.
  const cli = join(root, 'cli.mjs');
  beforeAll(() => {
    writeFileSync(
      cli,
      `const { main } = await import(${JSON.stringify(pathToFileURL(resolve('src/cli/main.ts')).href)});\n` +
        "await main(process.argv).catch((e) => { console.error(`face-llava: ${e.message}`); process.exitCode = 1; });\n",
    );
  });

  /** Runs the CLI with its stdout going to `reader`; resolves to its exit code and what it wrote on stderr. */
  function run(args: string[], reader: 'closed' | 'head -1'): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const command = [process.execPath, '--import', 'tsx', cli, ...args].map((a) => `'${a}'`).join(' ');
    // Closed: the reader is gone before the CLI has started (`true` reads nothing), so its first write fails.
    const script = reader === 'closed' ? `${command} | true` : `${command} | head -1`;
    const child = spawn('bash', ['-c', `${script}; exit "\${PIPESTATUS[0]}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((done, fail) => {
      child.once('error', fail);
      child.once('close', (code) => done({ code, stdout, stderr }));
    });
  }

  it('exits 0 without a word when the reader is gone before the first write', async () => {
    const { code, stderr } = await run(['data', 'instructions', '--task', 'expression'], 'closed');
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('exits 0 without a word when the reader takes one line and leaves', async () => {
    // One write per line: the lines after the first meet a closed pipe once head has left.
    const { code, stdout, stderr } = await run(['data', 'instructions', '--task', 'expression'], 'head -1');
    expect(stdout).toMatch(/^expression-000\t[^\n]*\n$/);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
