// Analysis benchmark (npm run bench:analyze): key=value lines for one face image analysed by a real model directory.
//
//   analyze_ms_warm     median over --runs analyses (after one warm-up) in a loaded pipeline, each answer forced to
//                       exactly --tokens new tokens (end of sequence ignored); its stages' medians follow
//   *_no_mirror         the same analyses with the mirror off (`mirror: false`), alternated with them in the same
//                       pipeline: what a model directory's `"mirror": true` costs (one more encoder pass)
//   *_no_heads          for a model with label heads (config.json `label_heads`): the same analyses with the heads
//                       left out of the decision rule (`labelHeads: false`), alternated with them: what choosing the
//                       expression from every opening, pooled with the head, costs
//   *_full_vocab        for a model whose config.json lists an `output_vocab`: the same analyses by a second pipeline
//                       that computes every token's logit (`fullVocab: true`, `--full-vocab`), alternated with them
//   analyze_ms_cold     process start to full answer: `node bin/face-llava.js analyze <image> --json` (the compiled
//                       CLI, rebuilt first when src/ is newer than dist/), up to --tokens tokens; cold_tokens says
//                       how many it generated
//
// The model: --model <dir>, else $FACE_LLAVA_MODEL, else the shipped one (models/default); without any it says so
// and exits 1. The image: --image <file>, else the first validation face of the realorfake pack.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR, PACKAGE_ROOT, readModelDirConfig } from '../src/model/pretrained.js';
import { FaceLlavaPipeline, ModelNotFoundError, resolveModelDir, type Analysis } from '../src/pipeline/index.js';
import { packAvailable, samplePack } from '../test/helpers/face-packs.js';

const USAGE = 'usage: npm run bench:analyze -- [--model DIR] [--image FILE] [--runs N (5)] [--tokens N (64)] [--threads N]';

function options() {
  try {
    return parseArgs({
      options: {
        model: { type: 'string' },
        image: { type: 'string' },
        runs: { type: 'string', default: '5' },
        tokens: { type: 'string', default: '64' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    console.error(`bench:analyze: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

/** A positive whole number of a flag, or exit 2 saying which flag is wrong. */
function count(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench:analyze: --${flag} must be a positive whole number, got '${text}'\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const args = options();
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const runs = count('runs', args.runs);
const tokens = count('tokens', args.tokens);
const threads = args.threads === undefined ? undefined : count('threads', args.threads);

function print(key: string, value: number | string): void {
  console.log(`${key}=${typeof value === 'number' ? +value.toPrecision(4) : value}`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A failure the bench reports in one line, without a stack. */
class BenchError extends Error {}

function fail(message: string): never {
  throw new BenchError(message);
}

function modelDir(): string {
  const given = args.model ?? process.env.FACE_LLAVA_MODEL;
  try {
    return resolveModelDir(given ?? DEFAULT_MODEL_DIR);
  } catch (err) {
    if (!(err instanceof ModelNotFoundError)) throw err;
    if (given !== undefined) fail(err.message);
    fail(`no model is available: none is shipped at ${DEFAULT_MODEL_DIR}; pass --model <dir> or set FACE_LLAVA_MODEL`);
  }
}

/** The newest modification time of the files under `dir`. */
function newest(dir: string): number {
  return Math.max(...readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => statSync(join(dir, f)).mtimeMs));
}

/** Compiles src/ into dist/ when the compiled CLI is missing or older than its sources. */
function ensureBuilt(): void {
  const entry = join(PACKAGE_ROOT, 'dist', 'cli', 'analyze.js');
  if (existsSync(entry) && statSync(entry).mtimeMs >= newest(join(PACKAGE_ROOT, 'src'))) return;
  process.stderr.write('bench:analyze: dist/ is older than src/, building\n');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const started = Date.now();
  const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  // Type errors elsewhere in a tree under edit do not stop tsc from emitting; a missing entry point does stop us.
  if (built.status !== 0) process.stderr.write(`bench:analyze: tsc reported errors (dist/ emitted anyway):\n${built.stdout}`);
  if (!existsSync(entry) || statSync(entry).mtimeMs < started - 1000) fail('the build did not produce dist/cli/analyze.js');
}

async function imageFile(dir: string): Promise<string> {
  if (args.image !== undefined) return resolve(args.image);
  if (!packAvailable('realorfake')) fail('no image: pass --image <file> (the realorfake pack is not there)');
  const [face] = (await samplePack('realorfake', 'val', 1)).values();
  const file = join(dir, 'face.jpg');
  writeFileSync(file, face);
  return file;
}

async function warm(model: string, image: string, listsVocab: boolean, headed: boolean): Promise<void> {
  const pipeline = await FaceLlavaPipeline.load({ model, threads });
  const fullVocab = listsVocab ? await FaceLlavaPipeline.load({ model, threads, fullVocab: true }) : undefined;
  try {
    const options = { task: 'expression', maxNewTokens: tokens, ignoreEos: true } as const;
    await pipeline.analyze(image, options);
    await pipeline.analyze(image, { ...options, mirror: false });
    await fullVocab?.analyze(image, options);
    if (headed) await pipeline.analyze(image, { ...options, labelHeads: false });
    const results: Analysis[] = [];
    const unmirrored: Analysis[] = [];
    const untrimmed: Analysis[] = [];
    const unheaded: Analysis[] = [];
    for (let i = 0; i < runs; i++) {
      results.push(await pipeline.analyze(image, options));
      unmirrored.push(await pipeline.analyze(image, { ...options, mirror: false }));
      if (fullVocab) untrimmed.push(await fullVocab.analyze(image, options));
      if (headed) unheaded.push(await pipeline.analyze(image, { ...options, labelHeads: false }));
    }
    const stage = (key: keyof Analysis['timings'], of = results) => median(of.map((r) => r.timings[key]));
    print('tokens', tokens);
    print('analyze_ms_warm', stage('totalMs'));
    print('face_ms', stage('faceMs'));
    print('preprocess_ms', stage('preprocessMs'));
    print('encode_ms', stage('encodeMs'));
    print('prefill_ms', stage('prefillMs'));
    print('generate_ms', stage('generateMs'));
    print('decode_tokens_per_s', ((tokens - 1) * 1000) / stage('generateMs'));
    print('analyze_ms_warm_no_mirror', stage('totalMs', unmirrored));
    print('encode_ms_no_mirror', stage('encodeMs', unmirrored));
    if (headed) {
      print('analyze_ms_warm_no_heads', stage('totalMs', unheaded));
      print('generate_ms_no_heads', stage('generateMs', unheaded));
    }
    if (fullVocab) {
      print('analyze_ms_warm_full_vocab', stage('totalMs', untrimmed));
      print('generate_ms_full_vocab', stage('generateMs', untrimmed));
    }
  } finally {
    await pipeline.dispose();
    await fullVocab?.dispose();
  }
}

function cold(model: string, image: string, suffix = '', flags: string[] = []): void {
  ensureBuilt();
  const cli = ['bin/face-llava.js', 'analyze', image, '--model', model, '--max-new-tokens', String(tokens), '--json', ...flags];
  if (threads !== undefined) cli.push('--threads', String(threads));
  const start = performance.now();
  const run = spawnSync(process.execPath, cli, { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  const ms = performance.now() - start;
  if (run.status !== 0) fail(`the CLI failed (exit ${run.status}):\n${run.stderr}`);
  const result = JSON.parse(run.stdout) as Analysis;
  print(`analyze_ms_cold${suffix}`, ms);
  print(`cold_tokens${suffix}`, result.tokens);
}

const scratch = mkdtempSync(join(tmpdir(), 'face-llava-bench-'));
try {
  const model = modelDir();
  const image = await imageFile(scratch);
  print('model', model);
  print('image', image);
  print('threads', threads ?? 'all');
  const config = await readModelDirConfig(model);
  const listsVocab = config.output_vocab !== undefined;
  await warm(model, image, listsVocab, config.label_heads?.heads.expression !== undefined);
  cold(model, image);
  if (listsVocab) cold(model, image, '_full_vocab', ['--full-vocab']);
} catch (err) {
  if (!(err instanceof BenchError)) throw err;
  process.stderr.write(`bench:analyze: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
