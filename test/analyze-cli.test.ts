// `face-llava analyze`: in this process for what it prints, and once as a real process for its exit code.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCommand } from '../src/cli/analyze.js';
import type { CliIo } from '../src/cli/eval.js';
import { TASKS } from '../src/data/build/types.js';
import { readLabel } from '../src/pipeline/index.js';
import { packAvailable, samplePack } from './helpers/face-packs.js';
import { saveTinyModel, TINY } from './helpers/tiny-model.js';

const root = mkdtempSync(join(tmpdir(), 'face-llava-analyze-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Printed {
  stdout: string;
  stderr: string;
  /** The command's failure, if it failed. */
  error?: Error;
}

/** Runs `face-llava analyze` in this process and collects what it printed. */
async function analyze(...args: string[]): Promise<Printed> {
  const printed: Printed = { stdout: '', stderr: '' };
  const io: CliIo = { stdout: (t) => void (printed.stdout += t), stderr: (t) => void (printed.stderr += t) };
  const command = analyzeCommand(io).exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  try {
    await command.parseAsync(args, { from: 'user' });
  } catch (err) {
    printed.error = err as Error;
  }
  return printed;
}

const jsonLines = (text: string) => text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe.skipIf(!packAvailable('realorfake'))('face-llava analyze', () => {
  let model: string;
  let good: string;
  let other: string;
  let text: string;
  let empty: string;
  let truncated: string;

  beforeAll(async () => {
    model = await saveTinyModel(join(root, 'model'));
    const [a, b] = (await samplePack('realorfake', 'val', 2)).values();
    good = join(root, 'good.jpg');
    other = join(root, 'other.jpg');
    text = join(root, 'readme.txt');
    empty = join(root, 'empty.jpg');
    truncated = join(root, 'truncated.jpg');
    writeFileSync(good, a);
    writeFileSync(other, b);
    writeFileSync(text, 'a text file, not a picture\n');
    writeFileSync(empty, '');
    writeFileSync(truncated, b.subarray(0, b.length >> 1));
  });

  it('streams the answer, which --json gives with its label, faces, media and timings', async () => {
    const args = ['--model', model, '--threads', '1', '--task', 'age', '--seed', '3', '--max-new-tokens', '10'];
    const plain = await analyze(good, ...args);
    expect(plain.error).toBeUndefined();
    expect(plain.stderr).toBe('warning: the model was trained for expression, not age\n');
    const json = await analyze(good, ...args, '--json');
    expect(json.error).toBeUndefined();
    const [result] = jsonLines(json.stdout);
    expect(result).toMatchObject({ file: good, task: 'age', media: { kind: 'image', width: 256, height: 256, frames: 1 } });
    expect(plain.stdout).toBe(`${result.answer}\n`);
    expect(result.label).toEqual(readLabel('age', result.answer as string));
    expect(result.faces).toHaveLength(1);
    expect(Object.keys(result.timings as object).sort()).toEqual(['encodeMs', 'faceMs', 'generateMs', 'prefillMs', 'preprocessMs', 'tokens', 'totalMs']);
  });

  it('reports each bad input with its own error, answers the good ones, and fails', async () => {
    const json = await analyze(text, good, empty, truncated, '--model', model, '--threads', '1', '--json');
    expect(json.error?.message).toBe('3 of 4 inputs failed');
    const lines = jsonLines(json.stdout);
    expect(lines.map((l) => l.file)).toEqual([text, good, empty, truncated]);
    expect(lines.map((l) => (l.error as { code: string } | undefined)?.code)).toEqual(['UNSUPPORTED_MEDIA', undefined, 'EMPTY_INPUT', 'CORRUPT_MEDIA']);
    expect(typeof lines[1].answer).toBe('string');
    const stderr = json.stderr.trim().split('\n');
    expect(stderr).toHaveLength(3);
    expect(stderr[0]).toMatch(new RegExp(`^face-llava analyze: ${text}: not an image .*\\(UNSUPPORTED_MEDIA\\)$`));
    expect(stderr[1]).toBe(`face-llava analyze: ${empty}: ${empty} is empty (0 bytes) (EMPTY_INPUT)`);
    expect(stderr[2]).toMatch(/truncated or damaged.*\(CORRUPT_MEDIA\)$/);

    const plain = await analyze(good, text, other, '--model', model, '--threads', '1');
    expect(plain.error?.message).toBe('1 of 3 inputs failed');
    expect(plain.stdout).toMatch(new RegExp(`^==> ${good} <==\\n.*\\n\\n==> ${text} <==\\n\\n==> ${other} <==\\n.*\\n$`, 's'));
  });

  it('answers all five tasks, the first streamed, each under its name', async () => {
    const plain = await analyze(good, '--model', model, '--threads', '1', '--task', 'all', '--max-new-tokens', '4', '--temperature', '0');
    expect(plain.error).toBeUndefined();
    const json = jsonLines((await analyze(good, '--model', model, '--threads', '1', '--task', 'all', '--max-new-tokens', '4', '--temperature', '0', '--json')).stdout)[0];
    const answers = json.answers as Record<string, { answer: string }>;
    expect(plain.stdout).toBe(TASKS.map((task) => `${task}: ${answers[task].answer}\n`).join(''));
  });

  it("writes from the model's output vocabulary, and from all tokens with --full-vocab", async () => {
    const listed = await saveTinyModel(join(root, 'model-vocab'), { ...TINY, output_vocab: [2, 29, 100, 350, 900] });
    const args = ['--model', listed, '--threads', '1', '--max-new-tokens', '6', '--temperature', '0', '--json'];
    const [trimmed] = jsonLines((await analyze(good, ...args)).stdout);
    const [full] = jsonLines((await analyze(good, ...args, '--full-vocab')).stdout);
    // Ids 29, 100, 350 and 900 are the pieces "\x1a", "a", "▁B" and "fol"; random weights favour other tokens.
    const onlyListed = (answer: unknown) => (answer as string).replaceAll('\u001a', '').replace(/ ?B|fol|a/g, '') === '';
    expect(trimmed.answer).not.toBe('');
    expect(onlyListed(trimmed.answer)).toBe(true);
    expect(onlyListed(full.answer)).toBe(false);
  });

  it('fails before loading anything on bad options, and says how to get a missing model', async () => {
    expect((await analyze(good, '--model', model, '--task', 'all', '--prompt', 'Why?')).error?.message).toMatch(/cannot go with task "all"/);
    expect((await analyze(good, '--model', model, '--task', 'mood')).error?.message).toMatch(/Allowed choices are expression, au, attributes, age, deepfake, all/);
    expect((await analyze(good, '--model', model, '--temperature', '-1')).error?.message).toMatch(/expected a number ≥ 0/);
    const missing = await analyze(good, '--model', join(root, 'none'));
    expect(missing.error?.message).toMatch(/^no model at .*none: a model directory holds config\.json/);
    expect(missing.error?.message).toMatch(/face-llava train/);
    expect(missing.stdout).toBe('');
  });

  it('exits non-zero as a process when an input failed, after answering the others', async () => {
    // The CLI from its TypeScript sources (bin/face-llava.js runs the compiled one), with the bin's error handling.
    const cli = join(root, 'cli.mjs');
    writeFileSync(
      cli,
      `const { main } = await import(${JSON.stringify(pathToFileURL(resolve('src/cli/main.ts')).href)});\n` +
        "await main(process.argv).catch((e) => { console.error(`face-llava: ${e.message}`); process.exitCode = 1; });\n",
    );
    const run = promisify(execFile);
    const failure = await run(process.execPath, ['--import', 'tsx', cli, 'analyze', good, empty, '--model', model, '--threads', '1', '--json']).catch((e: unknown) => e);
    const { code, stdout, stderr } = failure as { code: number; stdout: string; stderr: string };
    expect(code).toBe(1);
    expect(jsonLines(stdout).map((l) => 'answer' in l)).toEqual([true, false]);
    expect(stderr).toContain(`face-llava analyze: ${empty}: `);
    expect(stderr.trim().split('\n').at(-1)).toBe('face-llava: 1 of 2 inputs failed');
  });
});
