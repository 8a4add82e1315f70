// Building FaceInstruct over the real packs of ../shared/data with the real face expert: the record format,
// subject splits, malformed rows, interrupted and resumed builds (in-process and a killed CLI process), worker
// threads, videos, the LLM annotator and judge against the fixture server, and the stats report.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFaceInstruct, countSourceRows, resolveSourceSpecs, selectSourceRows, type BuildOptions, type FaceInstructRecord } from '../src/data/faceinstruct.js';
import { dealLimit } from '../src/data/build/select.js';
import type { SourceItem } from '../src/data/build/sources.js';
import { OfflineAnnotator } from '../src/data/annotators/offline.js';
import { LlmAnnotator } from '../src/data/annotators/openai.js';
import { LlmJudge } from '../src/data/rater/judge.js';
import { ChatClient } from '../src/data/openai-client.js';
import { instructionPool } from '../src/data/instructions/index.js';
import { checkRules } from '../src/data/rater/rules.js';
import { measureCues } from '../src/data/cues.js';
import { collectStats, formatStats } from '../src/data/build/stats.js';
import { readManifest, type Rejection } from '../src/data/build/output.js';
import { ZipImages } from '../src/data/zip.js';
import { startOpenAiFixture } from './fixtures/openai-server.js';

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;

const DATA = resolve('../shared/data');
const run = promisify(execFile);
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'faceinstruct-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const options = (out: string, extra: Partial<BuildOptions> = {}): BuildOptions => ({
  sources: ['ckplus'],
  task: 'expression',
  out,
  dataRoot: DATA,
  annotator: new OfflineAnnotator(),
  seed: 'test',
  ...extra,
});

async function records(dir: string): Promise<FaceInstructRecord[]> {
  const shards = (await readdir(dir)).filter((f) => f.startsWith('shard-')).sort();
  const lines = await Promise.all(shards.map(async (f) => (await readFile(join(dir, f), 'utf8')).split('\n').filter(Boolean)));
  return lines.flat().map((line) => JSON.parse(line) as FaceInstructRecord);
}

async function rejections(dir: string): Promise<Rejection[]> {
  return (await readFile(join(dir, 'rejected.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Rejection);
}

/** Every data file of a build folder (shards, rejected rows), for byte-for-byte comparison. */
async function outputFiles(dir: string): Promise<Record<string, string>> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl')).sort();
  return Object.fromEntries(await Promise.all(files.map(async (f) => [f, await readFile(join(dir, f), 'utf8')] as const)));
}

/** Every file under a folder with its modification time. */
async function snapshot(dir: string): Promise<Record<string, number>> {
  const files = (await readdir(dir, { recursive: true })).filter((f) => /\.(jpg|json)$/.test(f));
  return Object.fromEntries(await Promise.all(files.map(async (f) => [f, (await stat(join(dir, f))).mtimeMs] as const)));
}

describe('building over ../shared/data', () => {
  it('writes records in the released format, with crops, landmarks and subject splits', async () => {
    const out = join(root, 'ckplus-au');
    const summary = await buildFaceInstruct(options(out, { task: 'au', limit: 36, shardSize: 10 }));
    expect(summary.consumed).toBe(36);
    const recs = await records(out);
    expect(recs.length + Object.values(summary.dropped).reduce((a, b) => a + b, 0)).toBe(36);
    expect(recs.length).toBeGreaterThan(30);
    expect((await readdir(out)).filter((f) => f.startsWith('shard-'))).toHaveLength(Math.ceil(recs.length / 10));

    const pool = new Map(instructionPool('au').map((i) => [i.id, i]));
    const splitOf = new Map<string, string>();
    for (const rec of recs) {
      expect(rec.id).toMatch(/^ckplus\/S\d+_\d+_\d+\.png$/);
      expect(rec.task).toBe('au');
      expect(rec.source).toBe('ckplus');
      expect(rec.annotator).toBe('offline');
      expect(rec.conversations[0].from).toBe('human');
      expect(rec.conversations[0].value.startsWith('<image>\n')).toBe(true);
      expect(rec.conversations[1].from).toBe('gpt');
      expect(pool.has(rec.instruction_id)).toBe(true);
      // The crop: a path relative to the output folder, a 256×256 JPEG.
      expect(rec.image).toMatch(/^media\/[0-9a-f]{2}\/[0-9a-f]{64}\.jpg$/);
      const meta = await sharp(join(out, rec.image!)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 256, 256]);
      const landmarks = rec.landmarks_2d as [number, number][];
      expect(landmarks).toHaveLength(68);
      for (const [x, y] of landmarks) expect(x > -0.5 && x < 1.5 && y > -0.5 && y < 1.5).toBe(true);
      // A free answer is the description, which passes the rules on the stored landmarks.
      const label = { task: 'au', value: rec.label as number[] } as const;
      if (pool.get(rec.instruction_id)!.form === 'free') expect(checkRules(rec.conversations[1].value, label, measureCues([landmarks]))).toEqual([]);
      // A subject is in one split only.
      expect(splitOf.get(rec.subject!) ?? rec.split).toBe(rec.split);
      splitOf.set(rec.subject!, rec.split);
    }
    const manifest = await readManifest(out);
    expect(manifest).toMatchObject({ consumed: 36, exhausted: false, config: { task: 'au', sources: ['ckplus'], seed: 'test' } });
  });

  it('resumes an interrupted build to exactly the uninterrupted result', async () => {
    const cache = join(root, 'cache');
    const whole = join(root, 'whole');
    const opts = (out: string, extra: Partial<BuildOptions> = {}): BuildOptions =>
      options(out, { sources: ['fer2013', 'ckplus'], limit: 48, shardSize: 7, cacheDir: cache, ...extra });
    await buildFaceInstruct(opts(whole));
    const cached = await snapshot(cache);

    const broken = join(root, 'broken');
    const controller = new AbortController();
    const first = await buildFaceInstruct(
      opts(broken, { signal: controller.signal, onProgress: (p) => p.consumed >= 17 && controller.abort() }),
    );
    expect(first.exhausted).toBe(false);
    expect(first.consumed).toBeLessThan(48);
    // A crash mid-write leaves a partial line after the checkpoint: resuming must cut it off.
    const shards = (await readdir(broken)).filter((f) => f.startsWith('shard-')).sort();
    await appendFile(join(broken, shards.at(-1)!), '{"id":"fer2013/half-writ');
    await appendFile(join(broken, 'rejected.jsonl'), '{"id":"x"');
    await writeFile(join(broken, 'shard-00099.jsonl'), '{"id":"begun after the checkpoint"}\n');

    const second = await buildFaceInstruct(opts(broken));
    expect(second.processed).toBe(48 - first.consumed);
    expect(await outputFiles(broken)).toEqual(await outputFiles(whole));
    // Every face came from the cache the first build filled: no crop was made or written again.
    expect(await snapshot(cache)).toEqual(cached);
    const ids = (await records(broken)).map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.some((id) => id.startsWith('fer2013/')) && ids.some((id) => id.startsWith('ckplus/'))).toBe(true);

    // Same settings are required to resume.
    await expect(buildFaceInstruct(opts(broken, { seed: 'other' }))).rejects.toThrow(/other settings/);
  });

  it('gives the same output with worker threads', async () => {
    const cache = join(root, 'cache-workers');
    const one = join(root, 'threads-1');
    const two = join(root, 'threads-2');
    await buildFaceInstruct(options(one, { sources: ['realorfake'], task: 'deepfake', limit: 16, cacheDir: cache }));
    await rm(cache, { recursive: true });
    await buildFaceInstruct(options(two, { sources: ['realorfake'], task: 'deepfake', limit: 16, cacheDir: cache, workers: 2 }));
    expect(await outputFiles(two)).toEqual(await outputFiles(one));
  });

  it('reports malformed rows of a user CSV and goes on', async () => {
    const dir = join(root, 'user-csv');
    await mkdir(join(dir, 'images'), { recursive: true });
    const zip = await ZipImages.open(join(DATA, 'fer2013', 'images.zip'));
    const names = [...zip.names()].slice(0, 6);
    for (const name of names) await writeFile(join(dir, 'images', name), await zip.read(name));
    zip.close();
    const csv = [
      'file,emotion,subject',
      `${names[0]},Happiness,p1`,
      `${names[1]},anger,p1`,
      `${names[2]},confused,p2`, // not an expression
      `${names[3]},sad`, // a field missing
      `missing.jpg,sad,p3`, // no such image
      `${names[4]},"sad"x,p4`, // text after a closing quote
      `${names[5]},Surprised,p5`,
    ].join('\n');
    await writeFile(join(dir, 'labels.csv'), csv + '\n');
    const seen: Rejection[] = [];
    const summary = await buildFaceInstruct(options(join(root, 'user-out'), { sources: [dir], onDrop: (r) => seen.push(r) }));
    expect(summary.dropped.malformed).toBe(4);
    // Neither --split nor --limit: the settings are those of builds begun before either existed, which still resume.
    expect((await readManifest(join(root, 'user-out')))!.config).not.toHaveProperty('split');
    expect((await readManifest(join(root, 'user-out')))!.config).not.toHaveProperty('limit');
    const malformed = (await rejections(join(root, 'user-out'))).filter((r) => r.reason === 'malformed');
    expect(malformed.map((r) => r.detail).join('\n')).toMatch(/confused/);
    expect(malformed.map((r) => r.detail).join('\n')).toMatch(/expected 3 fields/);
    expect(malformed.map((r) => r.detail).join('\n')).toMatch(/missing\.jpg/);
    expect(seen.filter((r) => r.reason === 'malformed')).toHaveLength(4);
    const recs = await records(join(root, 'user-out'));
    expect(recs.map((r) => [r.source, r.label, r.subject])).toEqual(
      expect.arrayContaining([
        ['user-csv', 'happy', 'p1'],
        ['user-csv', 'angry', 'p1'],
      ]),
    );
  });

  it.skipIf(!hasFfmpeg)('builds video samples: an MP4 of the sampled crops and landmarks per frame', async () => {
    const dir = join(root, 'videos');
    const zip = await ZipImages.open(join(DATA, 'realorfake', 'images.zip'));
    const [real, fake] = [[...zip.names()].find((n) => n.startsWith('real'))!, [...zip.names()].find((n) => n.startsWith('fake'))!];
    for (const [label, name] of [['real', real], ['fake', fake]]) {
      await mkdir(join(dir, label), { recursive: true });
      const still = join(dir, `${label}.jpg`);
      await writeFile(still, await zip.read(name));
      // A 1.2 s clip that slowly zooms into the still face.
      await run('ffmpeg', ['-loglevel', 'error', '-loop', '1', '-i', still, '-vf', "scale=320:320,zoompan=z='1+0.004*on':d=1:s=256x256:fps=10", '-frames:v', '12', '-pix_fmt', 'yuv420p', join(dir, label, 'clip.mp4')]);
      await rm(still);
    }
    zip.close();
    const out = join(root, 'video-out');
    await buildFaceInstruct(options(out, { sources: [dir], task: 'deepfake' }));
    const recs = await records(out);
    expect(recs.map((r) => r.label).sort()).toEqual(['fake', 'real']);
    for (const rec of recs) {
      expect(rec.video).toMatch(/^media\/[0-9a-f]{2}\/[0-9a-f]{64}\.mp4$/);
      expect(rec.image).toBeUndefined();
      expect(rec.conversations[0].value.startsWith('<video>\n')).toBe(true);
      const frames = rec.landmarks_2d as [number, number][][];
      expect(frames).toHaveLength(8);
      for (const frame of frames) expect(frame).toHaveLength(68);
      const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'csv=p=0', join(out, rec.video!)]);
      expect(stdout.trim()).toBe('256,256,8');
    }
  });

  it('annotates and judges through an OpenAI-compatible endpoint', async () => {
    const server = await startOpenAiFixture();
    try {
      const client = new ChatClient({ baseUrl: server.baseUrl, model: 'fixture', retryBaseMs: 5 });
      const out = join(root, 'llm');
      const summary = await buildFaceInstruct(
        options(out, { sources: ['realorfake'], task: 'deepfake', limit: 6, annotator: new LlmAnnotator(client), judge: new LlmJudge(client), minRating: 6 }),
      );
      expect(summary.records).toBe(6);
      expect(server.requests).toHaveLength(12); // one description and one rating per sample
      for (const rec of await records(out)) {
        expect(rec.annotator).toBe('openai:fixture');
        expect(rec.ratings).toEqual({ label_accuracy: 9, media_consistency: 9, label_consistency: 9, overall: 8 });
      }
      expect(server.requests.every((r) => r.images.length === 1)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('reports counts, label balance and ratings', async () => {
    const stats = await collectStats(join(root, 'whole'));
    expect(stats.samples + Object.values(stats.dropped).reduce((a, b) => a + b, 0)).toBe(48);
    expect(Object.values(stats.labels.expression).reduce((a, b) => a + b, 0)).toBe(stats.samples);
    expect(stats.bySource.fer2013 + stats.bySource.ckplus).toBe(stats.samples);
    const text = formatStats(stats);
    expect(text).toMatch(/label balance \(expression\)/);
    expect(text).toMatch(/partial: resumable/);
    const rated = await collectStats(join(root, 'llm'));
    expect(rated.ratings.kept.overall[7]).toBe(6);
    expect(formatStats(rated)).toMatch(/overall\s+1:0 2:0 3:0 4:0 5:0 6:0 7:0 8:6 9:0 10:0 {2}mean 8\.00/);
  });

  it('limits to a sample spread over the source: the label and split balance of --limit 300', async () => {
    type Selection = Parameters<typeof selectSourceRows>[0];
    const items = async (selection: Selection): Promise<SourceItem[]> => {
      const found: SourceItem[] = [];
      for await (const event of selectSourceRows({ dataRoot: DATA, ...selection })) if ('item' in event) found.push(event.item);
      return found;
    };
    const shares = (list: readonly SourceItem[], key: (item: SourceItem) => string): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const item of list) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
      return Object.fromEntries(Object.entries(counts).map(([k, n]) => [k, n / list.length]));
    };
    const label = (item: SourceItem) => String(item.label.value);
    const split = (item: SourceItem) => item.split!;
    // The CLI's default seed. The first 300 rows were all `val` (FER2013) and half `fake` (realorfake: 140 of 300,
    // every fake row of the pack); a hash sample has the pack's balance up to sampling noise.
    for (const [pack, task, tolerance] of [['fer2013', 'expression', 0.07], ['realorfake', 'deepfake', 0.04]] as const) {
      const all = await items({ sources: [pack], task });
      const sample = await items({ sources: [pack], task, limit: 300 });
      expect(sample).toHaveLength(300);
      for (const key of [label, split]) {
        const [want, got] = [shares(all, key), shares(sample, key)];
        expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort().filter((k) => k !== 'disgust' || got.disgust)); // 1.4 % of FER2013
        for (const k of Object.keys(got)) expect(Math.abs(got[k] - want[k]), `${pack} ${k}: ${got[k]} vs ${want[k]}`).toBeLessThan(tolerance);
      }
    }
    // The same rows for every part, and in every build: a larger limit's sample holds a smaller one's.
    const ids = (list: readonly SourceItem[]) => list.map((item) => item.id);
    const whole = ids(await items({ sources: ['realorfake'], task: 'deepfake', limit: 300 }));
    const parts = await Promise.all([0, 1, 2].map(async (index) => ids(await items({ sources: ['realorfake'], task: 'deepfake', limit: 300, part: { index, count: 3 } }))));
    expect(parts.flat().sort()).toEqual([...whole].sort());
    for (const part of parts) expect(whole.filter((id) => part.includes(id))).toEqual(part);
    const larger = new Set(ids(await items({ sources: ['realorfake'], task: 'deepfake', limit: 400 })));
    expect(whole.filter((id) => !larger.has(id))).toEqual([]);
    // Several sources share the limit as round-robin reading did: equal shares, a small source's rest to the others.
    expect(dealLimit([30_705, 756], 48)).toEqual([24, 24]);
    expect(dealLimit([5, 100, 0, 7], 20)).toEqual([5, 8, 0, 7]);
    expect(dealLimit([100, 100], 3)).toEqual([2, 1]);
    // --split: the records' split, the same assignment for rows counted and built.
    const train = await items({ sources: ['fer2013'], task: 'expression', split: 'train', limit: 300 });
    expect(train.every((item) => item.split === 'train')).toBe(true);
    expect(await countSourceRows({ sources: ['fer2013'], task: 'expression', dataRoot: DATA, split: 'val' })).toBe(3291);
  });

  it('builds one split: CK+ by subject, resumable only with the same split and limit', async () => {
    const out = join(root, 'ckplus-val');
    const opts = (extra: Partial<BuildOptions> = {}) => options(out, { split: 'val', limit: 9, seed: 'faceinstruct', ...extra });
    const summary = await buildFaceInstruct(opts());
    expect(summary.consumed).toBe(9);
    const recs = await records(out);
    expect(recs.length).toBeGreaterThan(6);
    expect(recs.every((r) => r.split === 'val')).toBe(true);
    // No subject of these is in the train rows.
    const subjects = new Set(recs.map((r) => r.subject));
    for await (const event of selectSourceRows({ sources: ['ckplus'], task: 'expression', dataRoot: DATA, split: 'train' })) {
      if ('item' in event) expect(subjects.has(event.item.subject!)).toBe(false);
    }
    expect((await readManifest(out))!.config).toMatchObject({ split: 'val', limit: 9 });
    expect((await buildFaceInstruct(opts())).processed).toBe(0);
    await expect(buildFaceInstruct(opts({ split: 'train' }))).rejects.toThrow(/other settings/);
    await expect(buildFaceInstruct(opts({ limit: 10 }))).rejects.toThrow(/other settings/);
  });

  it('leaves a whole source out for zero-shot builds, and counts rows for the progress bar', async () => {
    expect(resolveSourceSpecs(['all'], 'expression')).toEqual(['fer2013', 'ckplus']);
    expect(resolveSourceSpecs(['all'], 'expression', ['ckplus'])).toEqual(['fer2013']);
    expect(resolveSourceSpecs([join(DATA, 'ckplus'), 'fer2013'], 'expression', ['ckplus'])).toEqual(['fer2013']);
    expect(await countSourceRows({ sources: ['realorfake'], task: 'deepfake', dataRoot: DATA })).toBe(560);
    expect(await countSourceRows({ sources: ['realorfake'], task: 'deepfake', dataRoot: DATA, part: { index: 1, count: 4 }, limit: 1000 })).toBeLessThan(200);
    await expect(buildFaceInstruct(options(join(root, 'none'), { sources: ['fer2013'], task: 'au' }))).rejects.toThrow(/fer2013 has no au labels/);
  });
});

describe('the CLI', () => {
  // The CLI from its TypeScript sources (bin/face-llava.js runs the compiled one).
  let cli: string;
  beforeAll(async () => {
    cli = join(root, 'cli.mjs');
    await writeFile(
      cli,
      `const { main } = await import(${JSON.stringify(pathToFileURL(resolve('src/cli/main.ts')).href)});\n` +
        "await main(['node', 'face-llava', ...process.argv.slice(2)]).catch((e) => { console.error(e.message); process.exitCode = 1; });\n",
    );
  });
  const face = (...args: string[]) => run(process.execPath, ['--import', 'tsx', cli, ...args], { maxBuffer: 1 << 24 });

  it('resumes a build killed mid-run to the uninterrupted result', async () => {
    const args = ['data', 'build', '--source', 'utkface', '--task', 'age', '--limit', '60', '--data-root', DATA, '--no-progress'];
    const whole = join(root, 'cli-whole');
    await face(...args, '--out', whole);

    const killed = join(root, 'cli-killed');
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args, '--out', killed], { stdio: 'ignore' });
    const shard = join(killed, 'shard-00000.jsonl');
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      if (existsSync(shard) && (await stat(shard)).size > 15_000) break;
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const lines = (await readFile(shard, 'utf8')).split('\n').length - 1;
    expect(lines).toBeLessThan(60);

    const { stdout } = await face(...args, '--out', killed);
    expect(stdout).toMatch(/samples from 60 source rows/);
    expect(await outputFiles(killed)).toEqual(await outputFiles(whole));

    const stats = await face('data', 'stats', killed);
    expect(stats.stdout).toMatch(/label balance \(age\)/);
    const json = JSON.parse((await face('data', 'stats', killed, '--json')).stdout) as { samples: number };
    expect(json.samples).toBe((await records(whole)).length);
  });

  it('lists the instruction pool as JSON', async () => {
    const { stdout } = await face('data', 'instructions', '--task', 'au', '--json');
    const pool = JSON.parse(stdout) as { id: string; form: string; text: string }[];
    expect(pool.length).toBeGreaterThanOrEqual(100);
    expect(pool.some((i) => i.form === 'codes')).toBe(true);
  });

  it('explains bad arguments', async () => {
    const error = await face('data', 'build', '--source', 'fer2013', '--task', 'emotion', '--out', join(root, 'x')).catch((e: { stderr: string }) => e);
    expect((error as { stderr: string }).stderr).toMatch(/Allowed choices are expression, au, attributes, age, deepfake/);
  });
});
