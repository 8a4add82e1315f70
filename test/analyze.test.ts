// The analysis pipeline end to end: a tiny random model directory, the real face expert, faces from the realorfake
// pack (read from its zip at test time), a video assembled with ffmpeg.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TASKS, type Task } from '../src/data/build/types.js';
import { EXPRESSIONS } from '../src/data/labels/expression.js';
import { evalInstruction } from '../src/eval/tasks.js';
import { sampleFrameIndices } from '../src/face/index.js';
import { FaceLlava } from '../src/model/face-llava.js';
import { FaceLlavaPipeline, ModelNotFoundError, readLabel } from '../src/pipeline/index.js';
import { codeOf } from './helpers/face-errors.js';
import { packAvailable, samplePack } from './helpers/face-packs.js';
import { saveTinyModel } from './helpers/tiny-model.js';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
const root = mkdtempSync(join(tmpdir(), 'face-llava-analyze-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(!packAvailable('realorfake'))('FaceLlavaPipeline', () => {
  let fl: FaceLlavaPipeline;
  let faces: Buffer[];
  let image: string;

  beforeAll(async () => {
    const model = await saveTinyModel(join(root, 'model'));
    fl = await FaceLlavaPipeline.load({ model, threads: 1 });
    faces = [...(await samplePack('realorfake', 'val', 4)).values()];
    image = join(root, 'face.jpg');
    writeFileSync(image, faces[0]);
  });
  afterAll(() => fl?.dispose());

  it('answers about the face in an image, streams the answer, reads its label and times each stage', async () => {
    let streamed = '';
    const tasks = new Set<Task | null>();
    const r = await fl.analyze(image, {
      task: 'expression',
      onText: (delta, task) => {
        streamed += delta;
        tasks.add(task);
      },
    });
    expect([...tasks]).toEqual(r.answer === '' ? [] : ['expression']);
    expect(r.task).toBe('expression');
    expect(r.prompt).toBe(evalInstruction('expression', 'image'));
    expect(streamed).toBe(r.answer);
    expect(r.label).toEqual(readLabel('expression', r.answer));
    if (r.label !== null) expect(EXPRESSIONS).toContain(r.label);
    expect(r.tokens).toBeGreaterThanOrEqual(1);
    expect(r.tokens).toBeLessThanOrEqual(8); // the model directory's max_new_tokens
    expect(['stop', 'length']).toContain(r.finishReason);

    expect(r.media).toEqual({ kind: 'image', width: 256, height: 256, frames: 1 });
    expect(r.faces).toHaveLength(1);
    const [{ box, score }] = r.faces;
    expect(score).toBeGreaterThan(0.5);
    expect(box.width).toBeGreaterThan(64);
    expect(box.x + box.width).toBeLessThanOrEqual(257);

    const { timings } = r;
    for (const key of ['faceMs', 'preprocessMs', 'encodeMs', 'prefillMs', 'generateMs', 'totalMs'] as const) expect(timings[key]).toBeGreaterThanOrEqual(0);
    expect(timings.tokens).toBe(r.tokens);
    const stages = timings.faceMs + timings.preprocessMs + timings.encodeMs + timings.prefillMs + timings.generateMs;
    expect(timings.totalMs).toBeGreaterThanOrEqual(stages - 1e-6);
  });

  it('generates exactly maxNewTokens with ignoreEos, and the same answer from the bytes as from the file', async () => {
    let streamed = '';
    const options = { task: 'age', maxNewTokens: 12, ignoreEos: true, sampling: { seed: 7 } } as const;
    const fromFile = await fl.analyze(image, { ...options, onText: (delta) => void (streamed += delta) });
    expect(fromFile.tokens).toBe(12);
    expect(fromFile.finishReason).toBe('length');
    expect(streamed).toBe(fromFile.answer);
    const fromBytes = await fl.analyze(faces[0], options);
    expect(fromBytes.answer).toBe(fromFile.answer);
    expect(fromBytes.label).toEqual(readLabel('age', fromBytes.answer));
  });

  it('asks all five tasks in one batch, encoding the media once', async () => {
    const encode = vi.spyOn(FaceLlava.prototype, 'encode');
    const streamed = new Map<Task | null, string>();
    try {
      const r = await fl.analyze(image, { task: 'all', maxNewTokens: 6, ignoreEos: true, onText: (d, task) => streamed.set(task, (streamed.get(task) ?? '') + d) });
      expect(encode).toHaveBeenCalledTimes(1);
      expect(r.task).toBe('all');
      expect(Object.keys(r.answers)).toEqual([...TASKS]);
      for (const task of TASKS) {
        const a = r.answers[task];
        expect(a.task).toBe(task);
        expect(a.prompt).toBe(evalInstruction(task, 'image'));
        expect(a.tokens).toBe(6);
        expect(streamed.get(task)).toBe(a.answer);
        expect(a.label).toEqual(readLabel(task, a.answer));
      }
      expect(r.timings.tokens).toBe(30);
    } finally {
      encode.mockRestore();
    }
  });

  it('asks a free prompt, reading no label unless a task is given', async () => {
    const free = await fl.analyze(image, { prompt: 'Describe this face.', maxNewTokens: 4 });
    expect(free).toMatchObject({ task: null, prompt: 'Describe this face.', label: null });
    const withTask = await fl.analyze(image, { prompt: 'Is this face real?', task: 'deepfake', maxNewTokens: 4 });
    expect(withTask).toMatchObject({ task: 'deepfake', prompt: 'Is this face real?' });
    expect(withTask.label).toEqual(readLabel('deepfake', withTask.answer));
  });

  it('refuses options that do not fit together before reading the media', async () => {
    await expect(fl.analyze(join(root, 'absent.jpg'), { task: 'all', prompt: 'Why?' })).rejects.toThrow(/cannot go with task "all"/);
    await expect(fl.analyze(image, { task: 'mood' as Task })).rejects.toThrow(/unknown task "mood"/);
    await expect(fl.analyze(image, { prompt: '  ' })).rejects.toThrow(/the prompt is empty/);
    await expect(fl.analyze(image, { maxNewTokens: 0 })).rejects.toThrow(/maxNewTokens must be a whole number ≥ 1/);
  });

  it('rejects unreadable media with the face expert’s codes', async () => {
    const text = join(root, 'notes.txt');
    writeFileSync(text, 'not a picture\n'.repeat(10));
    const empty = join(root, 'empty.jpg');
    writeFileSync(empty, '');
    const truncated = join(root, 'truncated.jpg');
    writeFileSync(truncated, faces[1].subarray(0, faces[1].length >> 1));
    const grey = join(root, 'grey.png');
    await sharp({ create: { width: 128, height: 128, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toFile(grey);
    expect(await codeOf(fl.analyze(text))).toBe('UNSUPPORTED_MEDIA');
    expect(await codeOf(fl.analyze(empty))).toBe('EMPTY_INPUT');
    expect(await codeOf(fl.analyze(truncated))).toBe('CORRUPT_MEDIA');
    expect(await codeOf(fl.analyze(join(root, 'absent.jpg')))).toBe('INPUT_NOT_FOUND');
    expect(await codeOf(fl.analyze(grey))).toBe('NO_FACE');
    expect((await fl.analyze(grey, { skipDetection: true, maxNewTokens: 2 })).faces).toEqual([{ box: { x: 0, y: 0, width: 128, height: 128 }, score: null }]);
  });

  it.skipIf(!hasFfmpeg)('answers about a video: 8 frames sampled uniformly, repeated when the clip is shorter', async () => {
    faces.forEach((bytes, i) => writeFileSync(join(root, `frame${i}.jpg`), bytes));
    const clip = join(root, 'clip.mp4');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-framerate', '4', '-i', join(root, 'frame%d.jpg'), '-c:v', 'mpeg4', '-q:v', '2', clip]);
    const r = await fl.analyze(clip, { task: 'expression', maxNewTokens: 4 });
    expect(r.prompt).toBe(evalInstruction('expression', 'video'));
    expect(r.media).toEqual({ kind: 'video', width: 256, height: 256, frames: 8, frameIndices: sampleFrameIndices(4, 8), frameCount: 4 });
    expect(r.faces.map((f) => f.frame)).toEqual(sampleFrameIndices(4, 8));

    const two = await fl.analyze(clip, { frames: 2, maxNewTokens: 2 });
    expect(two.media).toMatchObject({ frames: 2, frameIndices: [0, 3] });
  });

  it('cannot be used once disposed', async () => {
    const other = await FaceLlavaPipeline.load({ model: join(root, 'model'), threads: 1 });
    const pending = other.analyze(image, { maxNewTokens: 2 });
    await other.dispose(); // lets the analysis under way finish
    expect((await pending).tokens).toBeGreaterThan(0);
    await expect(other.analyze(image)).rejects.toThrow(/disposed/);
  });
});

describe('loading', () => {
  it('says how to get a model when there is none', async () => {
    const absent = join(root, 'no-model');
    const err = await FaceLlavaPipeline.load({ model: absent }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect((err as Error).message).toContain(`no model at ${absent}`);
    expect((err as Error).message).toMatch(/face-llava train/);
  });
});
