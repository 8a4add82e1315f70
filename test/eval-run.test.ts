import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand, type CliIo } from '../src/cli/eval.js';
import type { Task } from '../src/data/build/types.js';
import { openPack } from '../src/data/packs.js';
import { CELEBA_ATTRIBUTES } from '../src/data/labels/attributes.js';
import { EXPRESSIONS } from '../src/data/labels/expression.js';
import type { EvalMetrics } from '../src/eval/report.js';
import { writeEvalOutputs } from '../src/eval/report.js';
import { classificationReport, meanF1Among, type ClassificationReport } from '../src/eval/metrics.js';
import { expertFaceReader, modelAnswerer, runEval, type Answerer, type FaceReader, type PredictionRecord } from '../src/eval/run.js';
import { headlines, parseAuSelection, readAnswer, scoreTask } from '../src/eval/tasks.js';
import { selectSourceRows } from '../src/data/faceinstruct.js';
import { sampleKey } from '../src/data/build/select.js';
import { writeSafetensors } from '../src/graph/safetensors.js';
import { createFaceExpert } from '../src/face/index.js';
import { loadPretrained, savePretrained } from '../src/model/pretrained.js';
import { startJudgeServer, type JudgeServer } from './fixtures/judge-server.js';
import { randomWeights, TINY } from './helpers/tiny-model.js';

const DATA = join(import.meta.dirname, '../../shared/data');
const hasFfmpeg = (() => {
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = mkdtempSync(join(tmpdir(), 'face-llava-eval-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * The rows `--limit n` evaluates, in file order, as columns by name: of the split's rows (by the pack's split column,
 * or all rows), the n whose seeded hash of `<pack>/<file>` ranks lowest.
 */
function packRows(pack: string, split: string | undefined, n: number): Record<string, string>[] {
  const [header, ...lines] = readFileSync(join(DATA, pack, 'labels.csv'), 'utf8').trim().split(/\r?\n/);
  const names = header.split(',');
  const rows = lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [names[i], cell]))).filter((row) => split === undefined || row.split === split);
  const key = (row: Record<string, string>) => sampleKey('eval', `${pack}/${row.file}`);
  const cutoff = rows.map(key).sort((a, b) => a - b)[n - 1];
  return rows.filter((row) => key(row) <= cutoff);
}

/** Faces without the face expert: a 2×2 black crop per image. */
const blankFaces: FaceReader = { read: async () => ({ kind: 'image', crops: [{ width: 2, height: 2, rgb: new Uint8Array(12) }], landmarks: [[]] }) };

/** Answers scripted per sample: sample k (its seed, see Answerer) gets script[k]. */
function scripted(script: readonly string[], seen: { seeds: number[]; instructions: string[] } = { seeds: [], instructions: [] }): Answerer {
  return {
    async answer(questions, seed) {
      seen.seeds.push(seed);
      seen.instructions.push(...questions.map((q) => q.instruction));
      return questions.map((_, i) => script[seed + i]);
    },
  };
}

const lines = (path: string) => readFileSync(path, 'utf8').trim().split('\n');
const readPredictions = (dir: string) => lines(join(dir, 'predictions.jsonl')).map((line) => JSON.parse(line) as PredictionRecord);
const readMetrics = (dir: string) => JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as EvalMetrics;

/** The outputs agree with each other: every reading is what the answer says, and the metrics are those of the readings. */
function expectConsistent(dir: string, task: Task): void {
  const predictions = readPredictions(dir);
  const metrics = readMetrics(dir);
  for (const p of predictions) expect(p.extracted).toEqual(readAnswer(task, p.answer));
  const recomputed = scoreTask(task, predictions.map((p) => p.truth), predictions.map((p) => p.extracted));
  expect(metrics.report).toEqual(JSON.parse(JSON.stringify(recomputed.report)));
  expect(metrics.n).toBe(predictions.length);
  expect(metrics.unreadable).toBeCloseTo(predictions.filter((p) => p.extracted === null).length / predictions.length, 12);
  const report = readFileSync(join(dir, 'report.md'), 'utf8');
  expect(report).toContain('![');
  expect(report).toContain('(chart.svg)');
  expect(readFileSync(join(dir, 'chart.svg'), 'utf8')).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<\/svg>\n$/);
}

const info = { model: '/models/scripted', generation: { temperature: 0.1, top_k: 50, max_new_tokens: 64 }, seed: 0, created: new Date('2025-01-01T00:00:00Z'), crop: 'whole', limit: null };

describe('evaluation with scripted answers', () => {
  it('expression: reads each answer, scores UAR and WAR, and draws the confusion matrix', async () => {
    const rows = packRows('fer2013', 'val', 8);
    const wrong = (label: string) => (label === 'sad' ? 'happy' : 'sad');
    // Right, right, wrong, … and the last one says nothing.
    const script = rows.map((r, k) => (k === 7 ? 'I cannot tell from this picture.' : `The facial expression is ${k % 3 === 2 ? wrong(r.label) : r.label}, because the mouth …`));
    const seen = { seeds: [] as number[], instructions: [] as string[] };
    const result = await runEval({ task: 'expression', pack: 'fer2013', dataRoot: DATA, split: 'val', limit: 8, batch: 3, faces: blankFaces, answerer: scripted(script, seen) });

    expect(seen.seeds).toEqual([0, 3, 6]); // sample k samples with seed + k, whatever the batching
    expect(seen.instructions[0]).toBe('What is the facial expression of the person in this image? Explain why.');
    expect(result.predictions.map((p) => p.file)).toEqual(rows.map((r) => r.file));
    const intended = rows.map((r, k) => (k === 7 ? null : k % 3 === 2 ? wrong(r.label) : r.label));
    expect(result.predictions.map((p) => p.extracted)).toEqual(intended);
    const truth = rows.map((r) => r.label);
    expect(result.score.report).toEqual(classificationReport(truth as never[], intended as never[], EXPRESSIONS));
    if (result.score.task !== 'expression') throw new Error('unreachable');
    expect(result.score.report.war).toBeCloseTo(5 / 8, 12);
    expect(result.score.report.unreadable).toBe(1 / 8);

    const dir = join(root, 'expression');
    await writeEvalOutputs(dir, result, info);
    expectConsistent(dir, 'expression');
    expect(readMetrics(dir).metrics).toEqual({ uar: result.score.report.uar, war: 5 / 8 });
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(report).toContain('# Evaluation: expression on fer2013');
    expect(report).toContain('## Confusion matrix');
    expect(report).toMatch(/\| unreadable answers \| 12\.5 % \(1 of 8\) \|/);
    expect(readFileSync(join(dir, 'chart.svg'), 'utf8')).toContain('confusion matrix');
  });

  it('age: MAE over the answers that state an age, and a histogram of the errors', async () => {
    const rows = packRows('utkface', 'val', 6);
    const script = rows.map((r, k) => (k === 5 ? 'Hard to say.' : `The person is about ${Number(r.age) + 3} years old.`));
    const result = await runEval({ task: 'age', pack: 'utkface', dataRoot: DATA, split: 'val', limit: 6, faces: blankFaces, answerer: scripted(script) });
    expect(result.score.report).toMatchObject({ n: 6, scored: 5, mae: 3 });
    const dir = join(root, 'age');
    await writeEvalOutputs(dir, result, info);
    expectConsistent(dir, 'age');
    expect(readMetrics(dir).metrics).toEqual({ mae: 3 });
    expect(readFileSync(join(dir, 'chart.svg'), 'utf8')).toContain('predicted − true age');
  });

  it('deepfake: accuracy', async () => {
    const rows = packRows('realorfake', 'val', 6);
    const script = rows.map((r, k) => `This image is ${k < 4 ? r.label : r.label === 'real' ? 'fake' : 'real'}.`);
    const result = await runEval({ task: 'deepfake', pack: 'realorfake', dataRoot: DATA, split: 'val', limit: 6, faces: blankFaces, answerer: scripted(script) });
    const dir = join(root, 'deepfake');
    await writeEvalOutputs(dir, result, info);
    expectConsistent(dir, 'deepfake');
    expect(readMetrics(dir).metrics).toEqual({ accuracy: 4 / 6 });
  });

  it('action units: F1 per AU that occurs, and their mean', async () => {
    const rows = packRows('ckplus', undefined, 6);
    const script = rows.map((r) => `The active action units are ${r.aus.split(' ').map((au) => `AU${au}`).join(', ')}.`);
    const result = await runEval({ task: 'au', pack: 'ckplus', dataRoot: DATA, limit: 6, faces: blankFaces, answerer: scripted(script) });
    if (result.score.task !== 'au') throw new Error('unreachable');
    const occurring = [...new Set(rows.flatMap((r) => r.aus.split(' ').map(Number)))].sort((a, b) => a - b);
    expect(result.score.report.perAu.map((s) => s.au)).toEqual(occurring);
    expect(result.score.report.meanF1).toBe(1);
    const dir = join(root, 'au');
    await writeEvalOutputs(dir, result, info);
    expectConsistent(dir, 'au');
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('## Per action unit');
    expect(readFileSync(join(dir, 'chart.svg'), 'utf8')).toContain('F1 per AU');
    // Beside the mean over the AUs that occur, the means over DISFA's and BP4D's among them.
    const metrics = readMetrics(dir);
    expect(metrics.aus).toBe('present');
    for (const key of ['disfa', 'bp4d'] as const) {
      const expected = meanF1Among(result.score.report, parseAuSelection(key).aus!);
      if (expected.scored > 0) expect(metrics.metrics[`mean_f1_${key}`]).toBe(expected.meanF1);
      else expect(metrics.metrics).not.toHaveProperty(`mean_f1_${key}`);
    }
  });

  it("action units on a benchmark's set: DISFA's 8 AUs, whichever occur", async () => {
    const rows = packRows('ckplus', undefined, 12);
    // Each answer names its true AUs and AU26 besides: AU26 is a false positive wherever it is not true.
    const script = rows.map((r) => `The active action units are ${[...new Set([...r.aus.split(' '), '26'])].map((au) => `AU${au}`).join(', ')}.`);
    const aus = parseAuSelection('disfa');
    const result = await runEval({ task: 'au', pack: 'ckplus', dataRoot: DATA, limit: 12, aus, faces: blankFaces, answerer: scripted(script) });
    if (result.score.task !== 'au') throw new Error('unreachable');
    expect(result.score.report.perAu.map((s) => s.au)).toEqual([1, 2, 4, 6, 9, 12, 25, 26]);
    const truth = rows.map((r) => r.aus.split(' ').map(Number));
    for (const s of result.score.report.perAu) {
      const occurs = truth.some((t) => t.includes(s.au));
      if (s.au === 26) expect(s.fp).toBe(truth.filter((t) => !t.includes(26)).length);
      // An AU of the set that neither occurs nor is said has no F1; one that occurs was always said.
      expect(s.f1).toBe(occurs ? (s.au === 26 ? (2 * s.tp) / (2 * s.tp + s.fp) : 1) : s.au === 26 ? 0 : null);
    }
    const dir = join(root, 'au-disfa');
    await writeEvalOutputs(dir, result, info);
    const metrics = readMetrics(dir);
    expect(metrics.aus).toBe('disfa');
    expect(metrics.metrics).toEqual({ mean_f1: result.score.report.meanF1 });
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain("Scored: DISFA's 8 AUs (1, 2, 4, 6, 9, 12, 25, 26)");
    // Scoring the same readings on the AUs that occur gives a different set, and the subset lines.
    const present = scoreTask('au', result.predictions.map((p) => p.truth), result.predictions.map((p) => p.extracted));
    expect(headlines(present).map((h) => h.key)).toEqual(['mean_f1', 'mean_f1_disfa', 'mean_f1_bp4d']);
    expect(headlines(present)[1].value).toBe(meanF1Among(present.report as never, aus.aus!).meanF1);
  });

  it('reads an AU set as eval --aus takes it', () => {
    expect(parseAuSelection('present')).toEqual({ name: 'present', title: 'the AUs that occur in the ground truth', aus: null });
    expect(parseAuSelection(' BP4D ')).toMatchObject({ name: 'bp4d', aus: [1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24] });
    expect(parseAuSelection('12, AU4,au4,1')).toEqual({ name: '1,4,12', title: 'AUs 1, 4, 12', aus: [1, 4, 12] });
    for (const bad of ['', '3', '1,,2', 'disfa,1', '1.5', 'all']) expect(() => parseAuSelection(bad), bad).toThrow(/expected present, disfa, bp4d or a comma-separated list/);
  });

  it('attributes: accuracy per attribute and its mean', async () => {
    const rows = packRows('celeba', 'val', 6);
    const script = rows.map(() => 'The person is smiling and wears no hat.');
    const result = await runEval({ task: 'attributes', pack: 'celeba', dataRoot: DATA, split: 'val', limit: 6, faces: blankFaces, answerer: scripted(script) });
    if (result.score.task !== 'attributes') throw new Error('unreachable');
    expect(result.score.report.accuracy.Smiling).toBeCloseTo(rows.filter((r) => r.Smiling === '1').length / 6, 12);
    expect(result.score.report.accuracy.Wearing_Hat).toBeCloseTo(rows.filter((r) => r.Wearing_Hat === '0').length / 6, 12);
    const dir = join(root, 'attributes');
    await writeEvalOutputs(dir, result, info);
    expectConsistent(dir, 'attributes');
    const chart = readFileSync(join(dir, 'chart.svg'), 'utf8');
    for (const name of CELEBA_ATTRIBUTES) expect(chart).toContain(`>${name}<`);
  });

  it('skips media the face reader cannot read, and says why', async () => {
    const rows = packRows('fer2013', 'val', 4);
    let calls = 0;
    const flaky: FaceReader = {
      read: async (bytes) => {
        if (++calls === 2) throw new Error('no face found in the image');
        return blankFaces.read(bytes);
      },
    };
    const skipped: string[] = [];
    const result = await runEval({
      task: 'expression',
      pack: 'fer2013',
      dataRoot: DATA,
      split: 'val',
      limit: 4,
      faces: flaky,
      answerer: scripted(rows.map(() => 'happy')),
      onSkip: (s) => skipped.push(`${s.file}: ${s.reason}`),
    });
    expect(skipped).toEqual([`${rows[1].file}: no face found in the image`]);
    expect(result.predictions.map((p) => p.file)).toEqual([rows[0].file, rows[2].file, rows[3].file]);
    const dir = join(root, 'skipped');
    await writeEvalOutputs(dir, result, info);
    expect(readMetrics(dir).skipped).toBe(1);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain(`## Skipped samples\n\n- ${rows[1].file}: no face found in the image`);
  });

  it("splits CK+ (no val rows of its own) by subject exactly as the builder does, and says so", async () => {
    const answerer: Answerer = { answer: async (questions) => questions.map(() => 'The person looks happy.') };
    const evaluated = async (split: 'train' | 'val', valFraction?: number) =>
      runEval({ task: 'expression', pack: 'ckplus', dataRoot: DATA, split, valFraction, batch: 64, faces: blankFaces, answerer });
    const subjectOf = (file: string) => file.split('_')[0];
    const val = await evaluated('val');
    const train = await evaluated('train');
    // The builder's --split val rows of CK+, one shared assignment.
    const built: string[] = [];
    for await (const event of selectSourceRows({ sources: ['ckplus'], task: 'expression', dataRoot: DATA, split: 'val' })) {
      if ('item' in event) built.push(event.item.file);
    }
    expect(val.predictions.map((p) => p.file)).toEqual(built);
    expect(val.predictions.length + train.predictions.length).toBe(756);
    const valSubjects = new Set(val.predictions.map((p) => subjectOf(p.file)));
    expect(valSubjects.size).toBeGreaterThan(0);
    expect(train.predictions.some((p) => valSubjects.has(subjectOf(p.file)))).toBe(false);
    expect(val.splitAssignment).toEqual({ by: ['subject'], valFraction: 0.1 });
    // Another share, another set of subjects (the build's --val-fraction must be given to match it).
    expect((await evaluated('val', 0.3)).predictions.length).toBeGreaterThan(val.predictions.length);

    const dir = join(root, 'ckplus-val');
    await writeEvalOutputs(dir, val, info);
    expect(readMetrics(dir).splitAssignment).toEqual({ by: ['subject'], valFraction: 0.1 });
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain(
      '- data: ckplus, split val (assigned by subject, as `face-llava data build` assigns it (a fixed hash of each subject sends 10 % of subjects to val), so no subject is in both splits);',
    );
    const fer = await runEval({ task: 'expression', pack: 'fer2013', dataRoot: DATA, split: 'val', limit: 2, faces: blankFaces, answerer });
    expect(fer.splitAssignment).toEqual({ by: ['source'], valFraction: 0.1 });
    await writeEvalOutputs(join(root, 'fer-val'), fer, info);
    expect(readFileSync(join(root, 'fer-val', 'report.md'), 'utf8')).toContain("- data: fer2013, split val (the source's own split column);");
  });

  it('refuses a split with no rows and a pack without the task', async () => {
    const base = { dataRoot: DATA, faces: blankFaces, answerer: scripted([]) };
    await expect(runEval({ ...base, task: 'expression', pack: 'fer2013', split: 'test' })).rejects.toThrow(/no samples to evaluate: fer2013 has no readable expression samples in split test/);
    await expect(runEval({ ...base, task: 'age', pack: 'fer2013' })).rejects.toThrow(/pack fer2013 has no age labels/);
  });
});

// ---- the command, end to end: a tiny random model, the face expert, a judge ----

/** Runs `face-llava eval` in this process; resolves with what it printed, rejects with its error. */
async function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) };
  const command = evalCommand(io).exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  await command.parseAsync(args, { from: 'user' });
  return { stdout, stderr };
}

describe('face-llava eval', () => {
  let model: string;
  let judge: JudgeServer;

  beforeAll(async () => {
    model = await savePretrained(join(root, 'tiny'), { config: TINY, weights: randomWeights(TINY) });
    // Answers about happy faces get a reply that never parses; the others get ratings.
    judge = await startJudgeServer((request) =>
      JSON.stringify(request.body.messages).includes('label of this image: happy.')
        ? { content: 'Sure! Here are my ratings.' }
        : { content: '{"media_consistency": 4, "label_consistency": 6, "completeness": 8}' },
    );
  });
  afterAll(() => judge.close());

  it('answers a pack with a random model and writes a consistent report', async () => {
    const out = join(root, 'cli');
    process.env.FACE_LLAVA_JUDGE_KEY = 'sk-test';
    const { stdout, stderr } = await cli([
      '--model', model, '--pack', 'fer2013', '--data', DATA, '--task', 'expression', '--split', 'val', '--limit', '6', '--batch', '4',
      '--json', '--out', out, '--judge', judge.url, '--judge-model', 'judge-1',
    ]);
    delete process.env.FACE_LLAVA_JUDGE_KEY;

    const metrics = readMetrics(out);
    expect(JSON.parse(stdout)).toEqual(metrics);
    expect(metrics).toMatchObject({ task: 'expression', source: 'fer2013', split: 'val', model, n: 6, skipped: 0, seed: 0 });
    expect(metrics.generation).toEqual({ temperature: 0.1, top_k: 50, max_new_tokens: 8, label_rules: true, mirror: false, output_vocab: null });
    expect(Object.keys(metrics.metrics)).toEqual(['uar', 'war']);
    const report = metrics.report as ClassificationReport<string>;
    expect(report.classes).toEqual([...EXPRESSIONS]);
    expect(report.confusion.map((row) => row.length)).toEqual(EXPRESSIONS.map(() => EXPRESSIONS.length + 1));
    expectConsistent(out, 'expression');

    const predictions = readPredictions(out);
    expect(predictions.map((p) => p.file)).toEqual(packRows('fer2013', 'val', 6).map((r) => r.file));
    for (const p of predictions) {
      expect(Object.keys(p)).toEqual(['file', 'truth', 'answer', 'extracted', 'judge']);
      expect(typeof p.answer).toBe('string');
    }
    expect(stderr).toMatch(/^4\/6 answered, \d+ unreadable, 0 skipped, [\d.]+ s per sample$/m);
    expect(stderr).toMatch(/^6\/6 answered/m);

    // The judge saw the crop, the label and the answer, with the key from the environment.
    expect(judge.requests[0].headers.authorization).toBe('Bearer sk-test');
    expect(judge.requests[0].body.model).toBe('judge-1');
    expect(JSON.stringify(judge.requests[0].body.messages)).toContain('data:image/jpeg;base64,');
    const happy = predictions.map((p) => p.truth === 'happy');
    expect(metrics.judge).toEqual({
      model: 'judge-1',
      rated: happy.filter((h) => !h).length,
      malformed: happy.filter((h) => h).length,
      failed: 0,
      mean: { media_consistency: 4, label_consistency: 6, completeness: 8 },
    });
    expect(predictions.map((p) => p.judge?.ok)).toEqual(happy.map((h) => !h));
    expect(judge.requests).toHaveLength(happy.filter((h) => !h).length + 3 * happy.filter((h) => h).length);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('## Reasoning ratings (judge: judge-1)');
  });

  it('prints the headline numbers and the report path without --json', async () => {
    const out = join(root, 'cli-text');
    const { stdout } = await cli(['--model', model, '--pack', join(DATA, 'realorfake'), '--task', 'deepfake', '--split', 'val', '--limit', '2', '--out', out]);
    expect(stdout).toMatch(/^deepfake on realorfake: 2 samples, accuracy [\d.]+, unreadable [\d.]+ %\n/);
    expect(stdout.trim().split('\n').at(-1)).toBe(join(out, 'report.md'));
  });

  it('records whether labels were chosen by the decision rules or sampled (--no-label-rules)', async () => {
    for (const [flags, rules] of [[[], true], [['--no-label-rules'], false]] as const) {
      const out = join(root, `cli-age-${rules}`);
      await cli(['--model', model, '--pack', 'utkface', '--data', DATA, '--task', 'age', '--split', 'val', '--limit', '2', '--out', out, ...flags]);
      expect(readMetrics(out).generation).toMatchObject({ label_rules: rules });
      expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain(rules ? "labels chosen by the task's decision rule" : 'labels sampled');
    }
  });

  // The model's config says no mirror; --mirror turns it on (this model has the landmark branch: the mirror's
  // landmarks go with it; test/pipeline-mirror.test.ts checks what the model is given).
  it('records whether each face was averaged with its mirror image (--mirror)', async () => {
    for (const [flags, mirror] of [[[], false], [['--mirror'], true]] as const) {
      const out = join(root, `cli-mirror-${mirror}`);
      await cli(['--model', model, '--pack', 'fer2013', '--data', DATA, '--task', 'expression', '--split', 'val', '--limit', '3', '--out', out, ...flags]);
      expect(readMetrics(out).generation).toMatchObject({ mirror });
      expect(readFileSync(join(out, 'report.md'), 'utf8').includes('each face averaged with its mirror image')).toBe(mirror);
    }
  });

  it("records the output vocabulary the answers came from, and that --full-vocab computed every token's logit", async () => {
    const listed = await savePretrained(join(root, 'tiny-vocab'), { config: { ...TINY, output_vocab: [2, 29, 100, 350, 900] }, weights: randomWeights(TINY) });
    for (const [flags, size] of [[[], 5], [['--full-vocab'], null]] as const) {
      const out = join(root, `cli-vocab-${size}`);
      await cli(['--model', listed, '--pack', 'fer2013', '--data', DATA, '--task', 'expression', '--split', 'val', '--limit', '2', '--out', out, ...flags]);
      expect(readMetrics(out).generation).toMatchObject({ output_vocab: size });
      expect(readFileSync(join(out, 'report.md'), 'utf8').includes("tokens from the model's output vocabulary of 5")).toBe(size === 5);
    }
  });

  it('crops as the build does: the detected face, or the whole picture where no face is found', async () => {
    const expert = await createFaceExpert();
    try {
      const detect = expertFaceReader(expert, { crop: 'detect', frames: 8 });
      const whole = expertFaceReader(expert, { crop: 'whole', frames: 8 });
      const face = readFileSync(join(REPO, 'samples', 'face.jpg'));
      const detected = await detect.read(face);
      const taken = await whole.read(face);
      // The detected crop frames the face (box ×1.4) and differs from the whole 256×256 picture.
      expect(detected.crops[0].width).toBe(256);
      expect(Buffer.compare(Buffer.from(detected.crops[0].rgb), Buffer.from(taken.crops[0].rgb))).not.toBe(0);
      // A grey picture has no face: it is taken whole rather than dropped from the score.
      const grey = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg().toBuffer();
      const fallback = await detect.read(grey);
      expect(fallback.crops).toHaveLength(1);
      expect(fallback.landmarks[0]).toHaveLength(68);
      // What is not a picture is still an error.
      await expect(detect.read(Buffer.from('not an image'))).rejects.toThrow();
    } finally {
      expert.dispose();
    }
  });

  it.skipIf(!hasFfmpeg)('asks about a video with one placeholder per sampled frame', async () => {
    const folder = join(root, 'clips');
    mkdirSync(join(folder, 'happy'), { recursive: true });
    mkdirSync(join(folder, 'sad'), { recursive: true });
    const [first] = packRows('fer2013', 'val', 1);
    const pack = await openPack('fer2013', join(DATA, 'fer2013'));
    writeFileSync(join(folder, 'sad', 'face.jpg'), await pack.readImage(first.file));
    await pack.close();
    execFileSync('ffmpeg', ['-loglevel', 'error', '-loop', '1', '-i', join(folder, 'sad', 'face.jpg'), '-t', '1', '-r', '12', '-vf', 'scale=64:64', '-c:v', 'mpeg4', join(folder, 'happy', 'clip.mp4')]);

    const pretrained = await loadPretrained(model);
    const expert = await createFaceExpert();
    const asked: { frames: number; landmarks: number; instruction: string }[] = [];
    const answerer = modelAnswerer(pretrained);
    try {
      const result = await runEval({
        task: 'expression',
        pack: folder,
        dataRoot: DATA,
        faces: expertFaceReader(expert, { crop: 'whole', frames: 8 }),
        answerer: {
          answer: (questions, seed) => {
            asked.push(...questions.map((q) => ({ frames: q.media.crops.length, landmarks: q.media.landmarks.length, instruction: q.instruction })));
            return answerer.answer(questions, seed);
          },
        },
      });
      expect(result.source).toBe('clips');
      expect(result.predictions.map((p) => [p.file, p.truth])).toEqual([
        ['happy/clip.mp4', 'happy'],
        ['sad/face.jpg', 'sad'],
      ]);
    } finally {
      expert.dispose();
      await pretrained.dispose();
    }
    expect(asked).toEqual([
      { frames: 8, landmarks: 8, instruction: 'What is the facial expression of the person in this video? Explain why.' },
      { frames: 1, landmarks: 1, instruction: 'What is the facial expression of the person in this image? Explain why.' },
    ]);
  });

  it('writes its outputs but fails when the judge rated nothing', async () => {
    const denied = await startJudgeServer(() => ({ status: 401, message: 'invalid api key' }));
    const out = join(root, 'cli-denied');
    try {
      await expect(cli(['--model', model, '--pack', 'fer2013', '--data', DATA, '--task', 'expression', '--limit', '1', '--out', out, '--judge', denied.url])).rejects.toThrow(
        /the judge rated none of the answers \(.*HTTP 401: invalid api key\)/,
      );
    } finally {
      await denied.close();
    }
    expect(readMetrics(out).judge).toMatchObject({ rated: 0, failed: 1 });
  });

  it('fails clearly without a model, with a model that does not fit, and with a bad option', async () => {
    await expect(cli(['--model', join(root, 'absent'), '--pack', 'fer2013', '--task', 'expression'])).rejects.toThrow(`no model at ${join(root, 'absent')}`);
    const wrong = randomWeights(TINY);
    wrong.set('model.mm_projector.2.weights', wrong.get('model.mm_projector.2.weight')!);
    wrong.delete('model.mm_projector.2.weight');
    const dir = join(root, 'wrong');
    await savePretrained(dir, { config: TINY, weights: randomWeights(TINY) });
    writeSafetensors(join(dir, 'model.safetensors'), wrong);
    await expect(cli(['--model', dir, '--pack', 'fer2013', '--data', DATA, '--task', 'expression'])).rejects.toThrow(
      /missing 1: model\.mm_projector\.2\.weight; unexpected 1: model\.mm_projector\.2\.weights/,
    );
    await expect(cli(['--model', model, '--pack', 'fer2013', '--task', 'mood'])).rejects.toThrow(/Allowed choices are expression, au, attributes, age, deepfake/);
    await expect(cli(['--model', model, '--pack', 'fer2013', '--task', 'age', '--limit', '0'])).rejects.toThrow(/expected a whole number ≥ 1/);
    await expect(cli(['--model', model, '--pack', 'fer2013', '--task', 'age', '--split', 'dev'])).rejects.toThrow(/Allowed choices are train, val, test/);
    await expect(cli(['--model', model, '--pack', 'ckplus', '--task', 'au', '--aus', '1,3'])).rejects.toThrow(/--aus <set>' argument '1,3' is invalid/);
    await expect(cli(['--model', model, '--pack', 'fer2013', '--task', 'expression', '--aus', 'disfa'])).rejects.toThrow(/--aus applies to --task au, not expression/);
  });

  it('says in --help how a split is assigned', async () => {
    let help = '';
    const command = evalCommand({ stdout: () => {}, stderr: () => {} }).exitOverride().configureOutput({ writeOut: (t) => void (help += t) });
    await expect(command.parseAsync(['--help'], { from: 'user' })).rejects.toThrow();
    expect(help.replace(/\s+/g, ' ')).toMatch(/as `face-llava data build` assigns them .*ckplus, which has no val rows of its own.*hash of each subject/);
    expect(help).toContain('--val-fraction');
  });
});
