// The npm baselines of `face-llava eval` (src/eval/baselines/): @vladmandic/human's and @vladmandic/face-api's own
// face models, run on onnxruntime, must be those libraries as the libraries run them — their preprocessing replayed
// against TF.js on real face crops, their outputs against TF.js (human) and face-api's own code (face-api) — and
// must answer in sentences the evaluation reads. Pack images come from ../shared/data when it is there.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand, type CliIo } from '../src/cli/eval.js';
import { EXPRESSIONS, toExpression, type Expression } from '../src/data/labels/expression.js';
import { openPack, type PackName } from '../src/data/packs.js';
import { createFaceExpert, type FaceExpert } from '../src/face/index.js';
import type { RgbImage } from '../src/face/rgb.js';
import { loadTfjsModel, type TfjsArtifacts } from '../src/graph/tfjs-import.js';
import {
  ageSentence,
  baselineAnswerer,
  expressionSentence,
  FaceApiBaseline,
  HumanBaseline,
  loadBaseline,
  type BaselinePredictor,
} from '../src/eval/baselines/index.js';
import { FACEAPI_EXPRESSION_LABELS, FACEAPI_EXPRESSIONS, faceApiInput } from '../src/eval/baselines/face-api.js';
import { decodeHumanAge, HUMAN_EMOTIONS, humanEmotionInput, humanFaceresInput, humanFaceTensor, humanScore } from '../src/eval/baselines/human.js';
import { argmax } from '../src/eval/baselines/answers.js';
import { cropAndResizeWhole, type FloatImages } from '../src/eval/baselines/preprocess.js';
import type { EvalMetrics } from '../src/eval/report.js';
import type { PredictionRecord, Question } from '../src/eval/run.js';
import { readAnswer } from '../src/eval/tasks.js';
import { packAvailable } from './helpers/face-packs.js';
import { relativeError } from './helpers/error.js';

const require = createRequire(import.meta.url);
const ROOT = join(import.meta.dirname, '..');
const DATA = join(ROOT, '../shared/data');
const HUMAN_MODELS = join(ROOT, 'node_modules/@vladmandic/human/models');
const FACEAPI_MODELS = join(ROOT, 'node_modules/@vladmandic/face-api/model');
const hasFer = packAvailable('fer2013');
const hasUtk = packAvailable('utkface');

// Real examples each library gets right (checked once by hand; the labels are the packs').
const FER_HAPPY = 'PublicTest_32839417.jpg';
const FER_SURPRISE = 'PublicTest_94828377.jpg';
const UTK_AGE_1 = '1_0_2_20161219141529089.jpg.chip.jpg';
const UTK_AGE_67 = '67_0_0_20170104213345869.jpg.chip.jpg';

let expert: FaceExpert;
let human: HumanBaseline;
let faceApi: FaceApiBaseline;
const tmp = mkdtempSync(join(tmpdir(), 'face-llava-baselines-'));

beforeAll(async () => {
  setWasmPaths(join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'));
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  await tf.setBackend('wasm');
  await tf.ready();
  [expert, human, faceApi] = await Promise.all([createFaceExpert(), HumanBaseline.load({ threads: 1 }), FaceApiBaseline.load({ threads: 1 })]);
});

afterAll(async () => {
  expert.dispose();
  await Promise.all([human.dispose(), faceApi.dispose()]);
  rmSync(tmp, { recursive: true, force: true });
});

/** The face expert's crop of an image as the evaluation makes it (a pack image is taken whole). */
async function crop(bytes: Buffer | string, detect = false): Promise<RgbImage> {
  const analysis = await expert.analyzeImage(bytes, { skipDetection: !detect });
  return analysis.faces[0].crop;
}

async function packCrop(pack: PackName, file: string): Promise<RgbImage> {
  const opened = await openPack(pack, join(DATA, pack));
  try {
    return await crop(await opened.readImage(file));
  } finally {
    await opened.close();
  }
}

/** Crops for the parity checks: the sample face (detected), and pack faces when the packs are there. */
async function parityCrops(): Promise<RgbImage[]> {
  const crops = [await crop(join(ROOT, 'samples/face.jpg'), true)];
  if (hasFer) crops.push(await packCrop('fer2013', FER_HAPPY), await packCrop('fer2013', FER_SURPRISE));
  if (hasUtk) crops.push(await packCrop('utkface', UTK_AGE_1), await packCrop('utkface', UTK_AGE_67));
  return crops;
}

/** The crops as a TF.js [n, h, w, 3] tensor in 0..255, as a decoded image reaches either library. */
function cropTensor(crops: readonly RgbImage[]): tf.Tensor4D {
  const { width, height } = crops[0];
  const data = new Float32Array(crops.length * width * height * 3);
  crops.forEach((c, i) => data.set(c.rgb, i * width * height * 3));
  return tf.tensor4d(data, [crops.length, height, width, 3]);
}

function expectImages(ours: FloatImages, ref: tf.Tensor, tolerance = 1e-4): void {
  expect([ours.n, ours.height, ours.width, ours.channels]).toEqual(ref.shape);
  expect(relativeError(ours.data, ref.dataSync())).toBeLessThan(tolerance);
}

function tfjsGraphModel(a: TfjsArtifacts): Promise<tf.GraphModel> {
  return tf.loadGraphModel({
    load: async () => ({
      modelTopology: a.modelTopology,
      weightSpecs: a.weightSpecs as tf.io.WeightsManifestEntry[],
      weightData: a.weightData.slice().buffer,
      format: a.format,
    }),
  });
}

describe('npm:human', () => {
  let crops: RgbImage[];
  // human's steps in TF.js, transcribed from its source: facemeshutil.ts cutAndResize, gear/emotion.ts, face/faceres.ts.
  let refFace: tf.Tensor4D;
  let refEmotionInput: tf.Tensor4D;
  let refFaceresInput: tf.Tensor4D;

  beforeAll(async () => {
    crops = await parityCrops();
    const x = cropTensor(crops);
    const boxes = tf.tensor2d(crops.flatMap(() => [0, 0, 1, 1]), [crops.length, 4]);
    const boxIndices = tf.tensor1d(crops.map((_, i) => i), 'int32');
    refFace = tf.div(tf.image.cropAndResize(x, boxes, boxIndices, [192, 192]), 255);
    const resized = tf.image.resizeBilinear(refFace, [64, 64], false);
    const gray = tf.sum(tf.mul(resized, tf.tensor1d([0.2989, 0.587, 0.114], 'float32')), 3, true);
    refEmotionInput = tf.mul(tf.sub(gray, 0.5), 2);
    refFaceresInput = tf.mul(tf.image.resizeBilinear(refFace, [224, 224], false), 255);
    tf.dispose([x, boxes, boxIndices, resized, gray]);
  });
  afterAll(() => tf.dispose([refFace, refEmotionInput, refFaceresInput]));

  it('prepares crops as human does: the 192-pixel face tensor, emotion.json\'s grayscale 64×64, faceres\'s 224×224', () => {
    expect(crops.length).toBeGreaterThanOrEqual(1);
    const face = humanFaceTensor(crops);
    expectImages(face, refFace);
    expectImages(humanEmotionInput(face), refEmotionInput);
    expectImages(humanFaceresInput(face), refFaceresInput);
  });

  it('runs emotion.json and faceres.json as TF.js does', async () => {
    const emotion = await tfjsGraphModel(await loadTfjsModel(join(HUMAN_MODELS, 'emotion.json')));
    const refProbabilities = (emotion.execute(refEmotionInput) as tf.Tensor).dataSync();
    expect(relativeError((await human.emotionProbabilities(crops)).flatMap((p) => [...p]), refProbabilities)).toBeLessThan(1e-4);
    const faceres = await tfjsGraphModel(await loadTfjsModel(join(HUMAN_MODELS, 'faceres.json')));
    const bins = faceres.execute(refFaceresInput, 'age_pred/Softmax') as tf.Tensor;
    expect(relativeError((await human.ageBins(crops)).flatMap((p) => [...p]), bins.dataSync())).toBeLessThan(1e-4);
    tf.dispose(bins);
    emotion.dispose();
    faceres.dispose();
  });

  it('decodes the age as human does, edges included', () => {
    const bins = (peak: number, left: number, right: number) => {
      const p = new Array<number>(100).fill(0);
      p[peak] = 0.5;
      if (peak > 0) p[peak - 1] = left;
      if (peak < 99) p[peak + 1] = right;
      return p;
    };
    expect(decodeHumanAge(bins(30, 0.2, 0.1))).toBeCloseTo(28, 6); // toward the larger neighbour: 30 − 10·0.2
    expect(decodeHumanAge(bins(30, 0.1, 0.2))).toBeCloseTo(32, 6);
    expect(decodeHumanAge(bins(0, 0, 0.25))).toBeCloseTo(2.5, 6); // no left neighbour: moves right
    expect(decodeHumanAge(bins(99, 0.2, 0))).toBeNaN(); // human's own NaN
  });

  it('picks the emotion human reports: scores truncated to two decimals, a tie going to the earlier class', () => {
    // happy (0.459) beats fear (0.451) by probability, but human reports both as 0.45, and its stable sort keeps
    // them in its class order, where fear comes first: human says fear.
    const scores = (p: number[]) => p.map(humanScore);
    expect(HUMAN_EMOTIONS[argmax(scores([0, 0, 0.451, 0.459, 0.09, 0, 0]))]).toBe('fear');
    expect(HUMAN_EMOTIONS[argmax([0, 0, 0.451, 0.459, 0.09, 0, 0])]).toBe('happy');
    expect(humanScore(0.9999)).toBe(0.99);
  });

  it('keeps human\'s class order, which our label set names one for one', () => {
    // src/gear/emotion.ts, for single-channel models (emotion.json takes [n, 64, 64, 1]).
    const source = readFileSync(join(ROOT, 'node_modules/@vladmandic/human/src/gear/emotion.ts'), 'utf8');
    expect(source).toContain(`annotations = [${HUMAN_EMOTIONS.map((e) => `'${e}'`).join(', ')}]; // oarriaga`);
    for (const e of HUMAN_EMOTIONS) expect(toExpression(e)).toBe(e);
  });
});

describe('npm:face-api', () => {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as {
    nets: {
      faceExpressionNet: { loadFromDisk(dir: string): Promise<void>; predictExpressions(input: unknown): Promise<{ asSortedArray(): { expression: string; probability: number }[] }[]> };
      ageGenderNet: { loadFromDisk(dir: string): Promise<void>; predictAgeAndGender(input: unknown): Promise<{ age: number }[]> };
    };
    toNetInput(input: unknown): Promise<{ toBatchTensor(size: number, center: boolean): tf.Tensor4D }>;
    FACE_EXPRESSION_LABELS: readonly string[];
  };
  let crops: RgbImage[];
  let unstacked: tf.Tensor3D[];

  beforeAll(async () => {
    crops = await parityCrops();
    // One 3-D tensor per face, as face-api's extractFaceTensors hands them to its nets (a batch input).
    unstacked = [...Array(crops.length).keys()].map((i) => tf.tidy(() => cropTensor([crops[i]]).squeeze([0]) as tf.Tensor3D));
    await Promise.all([faceapi.nets.faceExpressionNet.loadFromDisk(FACEAPI_MODELS), faceapi.nets.ageGenderNet.loadFromDisk(FACEAPI_MODELS)]);
  });
  afterAll(() => tf.dispose(unstacked));

  it('prepares crops as face-api\'s NetInput does (112×112, 0..255)', async () => {
    const batch = (await faceapi.toNetInput(unstacked)).toBatchTensor(112, true);
    expectImages(faceApiInput(crops, 112), batch);
    tf.dispose(batch);
  });

  it('answers as face-api\'s own FaceExpressionNet and AgeGenderNet do on the same crops', async () => {
    const ref = await faceapi.nets.faceExpressionNet.predictExpressions(unstacked);
    const ours = await faceApi.expressionProbabilities(crops);
    ref.forEach((r, i) => {
      const byLabel = Object.fromEntries(r.asSortedArray().map((e) => [e.expression, e.probability]));
      const refRow = FACEAPI_EXPRESSION_LABELS.map((label) => byLabel[label]);
      expect(relativeError(ours[i], refRow)).toBeLessThan(1e-4);
    });
    const refAges = (await faceapi.nets.ageGenderNet.predictAgeAndGender(unstacked)).map((p) => p.age);
    expect(relativeError(await faceApi.age(crops), refAges)).toBeLessThan(1e-4);
  });

  it('maps face-api\'s labels onto ours', () => {
    expect(faceapi.FACE_EXPRESSION_LABELS).toEqual(FACEAPI_EXPRESSION_LABELS);
    FACEAPI_EXPRESSION_LABELS.forEach((label, i) => expect(toExpression(label)).toBe(FACEAPI_EXPRESSIONS[i]));
  });
});

describe('preprocessing', () => {
  it('samples the whole image to any size without reading past its last row', () => {
    // 4 rows to 188: y · 3/187 lands a rounding error past row 3 for some y.
    const x: FloatImages = { n: 1, height: 4, width: 5, channels: 1, data: Float32Array.from({ length: 20 }, (_, i) => i) };
    const out = cropAndResizeWhole(x, 188);
    expect(out.data.every(Number.isFinite)).toBe(true);
    expect([out.data[0], out.data[187], out.data[188 * 187], out.data[188 * 188 - 1]]).toEqual([0, 4, 15, 19]);
  });
});

describe('answers', () => {
  const question = (c: RgbImage): Question => ({ media: { kind: 'image', crops: [c], landmarks: [[]] }, instruction: 'ignored' });

  it('say every label and age in a sentence the evaluation reads', () => {
    for (const e of EXPRESSIONS) expect(readAnswer('expression', expressionSentence(e))).toBe(e);
    for (const years of [0, 0.8, 3, 34.25, 67.9, 116]) expect(readAnswer('age', ageSentence(years))).toBeCloseTo(years, 1);
    expect(readAnswer('age', ageSentence(-1.3))).toBe(0); // a regression below zero is a newborn
    expect(readAnswer('age', ageSentence(NaN))).toBeNull();
  });

  it.skipIf(!hasFer)('read a clearly happy and a clearly surprised FER2013 face right, with both libraries', async () => {
    const faces = [await packCrop('fer2013', FER_HAPPY), await packCrop('fer2013', FER_SURPRISE)];
    for (const predictor of [human, faceApi]) {
      const answers = await baselineAnswerer(predictor, 'expression').answer(faces.map(question), 0);
      expect(answers.map((a) => readAnswer('expression', a)), predictor.name).toEqual(['happy', 'surprise']);
    }
  });

  it.skipIf(!hasUtk)('tell a baby from a 67-year-old on UTKFace, with both libraries', async () => {
    const faces = [await packCrop('utkface', UTK_AGE_1), await packCrop('utkface', UTK_AGE_67)];
    for (const predictor of [human, faceApi]) {
      const answers = await baselineAnswerer(predictor, 'age').answer(faces.map(question), 0);
      const [baby, senior] = answers.map((a) => readAnswer('age', a) as number);
      expect(baby, `${predictor.name}: ${answers[0]}`).toBeLessThan(4);
      expect(Math.abs(senior - 67), `${predictor.name}: ${answers[1]}`).toBeLessThan(8);
    }
  });

  it('average a video\'s frames, and batch questions without mixing them up', async () => {
    const frame = { width: 1, height: 1, rgb: new Uint8Array(3) };
    // A stub predictor whose output is the crop's first byte: frame k of a video says class k, or k years.
    const stub: BaselinePredictor = {
      name: 'stub',
      async expression(crops) {
        const classes: readonly Expression[] = ['neutral', 'happy', 'sad'];
        return { classes, probabilities: crops.map((c) => Float32Array.from([0.3, c.rgb[0] === 1 ? 0.6 : 0.1, c.rgb[0] === 2 ? 0.6 : 0.2])) };
      },
      async age(crops) {
        return crops.map((c) => 10 * c.rgb[0]);
      },
      dispose: async () => {},
    };
    const crop = (v: number) => ({ ...frame, rgb: Uint8Array.from([v, 0, 0]) });
    const video: Question = { media: { kind: 'video', crops: [crop(1), crop(2), crop(2)], landmarks: [[], [], []] }, instruction: '' };
    const still: Question = { media: { kind: 'image', crops: [crop(1)], landmarks: [[]] }, instruction: '' };
    // Video: mean over frames = [0.3, 0.267, 0.467] → sad; the still: happy.
    expect(await baselineAnswerer(stub, 'expression').answer([video, still], 0)).toEqual([expressionSentence('sad'), expressionSentence('happy')]);
    expect(await baselineAnswerer(stub, 'age').answer([video, still], 0)).toEqual([ageSentence(50 / 3), ageSentence(10)]);
  });

  it('refuse a task the library has no model for, and unknown baselines', async () => {
    await expect(loadBaseline('npm:human', 'au')).rejects.toThrow('npm:human has no model for task au; it answers expression and age');
    await expect(loadBaseline('npm:face-api', 'deepfake')).rejects.toThrow('npm:face-api has no model for task deepfake; it answers expression and age');
    await expect(loadBaseline('npm:nope', 'age')).rejects.toThrow('no baseline npm:nope: the baselines are npm:human, npm:face-api');
  });
});

/** Runs `face-llava eval` in this process; resolves with what it printed. */
async function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) };
  await evalCommand(io).exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).parseAsync(args, { from: 'user' });
  return { stdout, stderr };
}

describe('face-llava eval --model npm:…', () => {
  it.skipIf(!hasFer)('evaluates npm:human on a pack and names it in metrics.json', async () => {
    const out = join(tmp, 'human-fer');
    const { stdout } = await cli([
      '--model', 'npm:human', '--pack', 'fer2013', '--data', DATA, '--task', 'expression', '--split', 'val', '--limit', '8',
      '--threads', '1', '--json', '--out', out,
    ]);
    const metrics = JSON.parse(stdout) as EvalMetrics;
    expect(metrics.model).toBe('npm:human');
    expect(metrics.n).toBe(8);
    expect(metrics.unreadable).toBe(0);
    expect(metrics.metrics.war).toBeGreaterThanOrEqual(0);
    const predictions = readFileSync(join(out, 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PredictionRecord);
    expect(predictions).toHaveLength(8);
    for (const p of predictions) expect(p.answer).toBe(expressionSentence(p.extracted as Expression));
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('- model: `npm:human`');
  });

  it('refuses a task the baseline does not answer before loading anything', async () => {
    await expect(cli(['--model', 'npm:face-api', '--pack', 'ckplus', '--data', DATA, '--task', 'au'])).rejects.toThrow(
      'npm:face-api has no model for task au; it answers expression and age',
    );
  });
});
