import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerLandmarksCommand } from '../src/cli/landmarks.js';
import { packAvailable, samplePack } from './helpers/face-packs.js';

/** Runs `face-llava landmarks …args` in this process; returns its stdout and stderr lines and exit code. */
async function landmarks(...args: string[]): Promise<{ out: string[]; err: string[]; exitCode: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const capture = (into: string[]) => (chunk: string | Uint8Array) => {
    into.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture(out));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture(err));
  try {
    const program = new Command().exitOverride();
    registerLandmarksCommand(program);
    await program.parseAsync(['node', 'face-llava', 'landmarks', ...args]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return { out, err, exitCode: Number(process.exitCode ?? 0) };
}

describe.skipIf(!packAvailable('celeba'))('face-llava landmarks', () => {
  let dir: string;
  let face: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'face-cli-'));
    const [bytes] = (await samplePack('celeba', 'val', 1)).values();
    face = path.join(dir, 'face.jpg');
    await writeFile(face, bytes);
    await writeFile(path.join(dir, 'empty.png'), '');
    await writeFile(path.join(dir, 'notes.txt'), 'no pixels here');
    await writeFile(path.join(dir, 'cut.jpg'), bytes.subarray(0, bytes.length >> 1));
    await writeFile(path.join(dir, 'wall.png'), await sharp({ create: { width: 64, height: 64, channels: 3, background: '#abcdef' } }).png().toBuffer());
  });
  afterEach(() => {
    process.exitCode = undefined;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints one JSON line per input and draws overlays; bad inputs fail alone', async () => {
    const overlays = path.join(dir, 'overlays');
    const inputs = [face, 'empty.png', 'notes.txt', 'cut.jpg', 'wall.png', 'missing.jpg', face].map((f) => path.resolve(dir, f));
    const { out, err, exitCode } = await landmarks(...inputs, '--json', '--overlay', overlays);
    expect(exitCode).toBe(1);
    const lines = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.file)).toEqual(inputs);
    const codes = lines.map((l) => (l.error as { code?: string } | undefined)?.code ?? 'ok');
    expect(codes).toEqual(['ok', 'EMPTY_INPUT', 'UNSUPPORTED_MEDIA', 'CORRUPT_MEDIA', 'NO_FACE', 'INPUT_NOT_FOUND', 'ok']);
    expect(err).toHaveLength(5);
    expect(err[0]).toMatch(/empty\.png: .*empty.*\(EMPTY_INPUT\)/);

    const result = lines[0] as { kind: string; width: number; height: number; faces: Record<string, unknown>[] };
    expect(result).toMatchObject({ kind: 'image', format: 'jpeg', width: 89, height: 109 });
    expect(result.faces).toHaveLength(1);
    const [first] = result.faces as { box: object; score: number; crop: object; landmarks68: number[][] }[];
    expect(Object.keys(first.box)).toEqual(['x', 'y', 'width', 'height']);
    expect(first.score).toBeGreaterThan(0.5);
    expect(first.crop).toEqual({ width: 256, height: 256 });
    expect(first.landmarks68).toHaveLength(68);
    expect(first.landmarks68.flat().every((v) => v >= 0 && v <= 1)).toBe(true);

    // One overlay per successful input; the repeated name gets a suffix.
    expect((await readdir(overlays)).sort()).toEqual(['face.jpg-2.png', 'face.jpg.png']);
    const meta = await sharp(path.join(overlays, 'face.jpg.png')).metadata();
    expect([meta.width, meta.height]).toEqual([512, 512]);
  });

  it('prints a readable summary without --json, and exits 0 when all inputs succeed', async () => {
    const { out, err, exitCode } = await landmarks(face, '--skip-detection');
    expect(exitCode).toBe(0);
    expect(err).toEqual([]);
    expect(out).toEqual([expect.stringMatching(/face\.jpg: 89×109 jpeg, 1 face\(s\): crop at 0,0 89×109/)]);
  });

  it('validates its options', async () => {
    await expect(landmarks(face, '--frames', '0')).rejects.toThrow(/positive integer/);
  });
});
