// The model that ships in models/default: it loads with no arguments, is the size the model card states, answers
// every task about the sample face with a label that can be read out of the answer, and reads held-out faces
// better than a majority guess (a regression guard, far below the model card's figures, on a few validation
// images the model never trained on).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticityOpenings } from '../src/data/annotators/offline.js';
import { TASKS } from '../src/data/build/types.js';
import { createFaceExpert, type FaceExpert } from '../src/face/index.js';
import { DEFAULT_MODEL_DIR, loadPretrained, PACKAGE_ROOT } from '../src/model/pretrained.js';
import { expertFaceReader, modelAnswerer, runEval } from '../src/eval/run.js';
import { FaceLlavaPipeline } from '../src/pipeline/index.js';
import { packAvailable } from './helpers/face-packs.js';

const DATA = join(PACKAGE_ROOT, '..', 'shared', 'data');
const SAMPLE = join(PACKAGE_ROOT, 'samples', 'face.jpg');
const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;

describe('the shipped default model', () => {
  let fl: FaceLlavaPipeline;
  beforeAll(async () => {
    fl = await FaceLlavaPipeline.load({ threads: 2 });
  });
  afterAll(() => fl?.dispose());

  it('is a float16 model directory under 60 MB, trained for the five tasks', async () => {
    const bytes = statSync(join(DEFAULT_MODEL_DIR, 'model.safetensors')).size;
    expect(bytes).toBeLessThan(60 * 1024 * 1024);
    const pretrained = await loadPretrained(DEFAULT_MODEL_DIR, { threads: 1 });
    try {
      expect([...pretrained.config.tasks].sort()).toEqual([...TASKS].sort());
      expect(pretrained.config.encoder).toMatchObject({
        kind: 'npm',
        package: '@vladmandic/human',
        model: 'faceres',
        concat: [
          { package: '@vladmandic/face-api', model: 'face_expression' },
          { package: '@vladmandic/face-api', model: 'age_gender', zoom: 1.4 },
          { package: '@vladmandic/human', model: 'emotion', pool: 'fit' },
        ],
      });
      expect(pretrained.model.encoder.width).toBe(2048);
      // The tokens of its training answers (scripts/output-vocab.ts), the end of sequence among them.
      expect(pretrained.config.output_vocab).toHaveLength(476);
      expect(pretrained.config.output_vocab).toContain(pretrained.tokenizer.eosId);
      // Label heads: the expression, real/fake, the age and the attributes pooled at weight ½, the AUs by their head
      // alone, each at its own F1-minded threshold (model card, *Label heads*).
      expect(pretrained.labelHeads?.tasks.sort()).toEqual(['age', 'attributes', 'au', 'deepfake', 'expression']);
      expect(pretrained.labelHeads?.head('deepfake')).toMatchObject({ kind: 'softmax', labels: ['real', 'fake'] });
      expect(pretrained.labelHeads?.weight).toBe(0.5);
      expect(pretrained.labelHeads?.head('expression')?.labels).toHaveLength(8);
      expect(pretrained.labelHeads?.head('expression')).toMatchObject({ hidden: 512, hiddenLayer: { bias: expect.any(Float32Array) } });
      expect(pretrained.labelHeads?.head('au')).toMatchObject({ weight: 1, thresholds: expect.any(Array) });
      expect(pretrained.labelHeads?.head('au')?.thresholds).toHaveLength(19);
      // One of the ages UTKFace's train split labels, 1 to 116 years, through a hidden layer.
      const ageHead = pretrained.labelHeads?.head('age');
      expect(ageHead).toMatchObject({ kind: 'softmax', hidden: 512 });
      expect(ageHead?.labels[0]).toBe('1');
      expect(ageHead?.labels.at(-1)).toBe('116');
    } finally {
      await pretrained.dispose();
    }
  });

  it('answers every task about the sample face with a label the answer states', async () => {
    const r = await fl.analyze(SAMPLE, { task: 'all', sampling: { seed: 0 } });
    for (const task of TASKS) {
      const answer = r.answers[task];
      expect(answer.answer.length).toBeGreaterThan(10);
      expect(answer.label, `${task}: ${answer.answer}`).not.toBeNull();
    }
    // The heads' readings come with the answers of their tasks; the expression stated is the head's or the
    // decoder's pooled choice, one of the head's eight.
    const { expression, attributes, age, deepfake } = r.answers;
    expect(Object.values(expression.headProbabilities!).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(Object.keys(expression.headProbabilities!)).toContain(expression.label);
    expect(Object.keys(attributes.headProbabilities!)).toHaveLength(40);
    // The age head's distribution over its ages; the age stated is the median of it pooled with the decoder's, so
    // it lies where the head gives real mass.
    expect(Object.values(age.headProbabilities!).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(age.headProbabilities![String(age.label)]).toBeGreaterThan(1e-3);
    // The sample is a StyleGAN2 face: the answer opens by calling it fake, in one of the training answers' wordings.
    expect(deepfake.label).toBe('fake');
    expect(authenticityOpenings('fake', 'image').some((o) => deepfake.answer.startsWith(o))).toBe(true);
    expect(r.faces).toHaveLength(1);
  });

  // Trained on still images, the model reads a video as the mean of its frames' tokens (video_tokens frame_mean):
  // given the 8 frames' 392 tokens instead, it answered with word salad and no label.
  it.skipIf(!hasFfmpeg)('reads a video of the sample face as it reads the image', async () => {
    const clip = join(mkdtempSync(join(os.tmpdir(), 'face-llava-video-')), 'face.mp4');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-loop', '1', '-i', SAMPLE, '-t', '2', '-r', '8', '-vf', 'scale=512:512', '-pix_fmt', 'yuv420p', clip]);
    const [image, video] = await Promise.all([SAMPLE, clip].map((input) => fl.analyze(input, { task: 'expression', sampling: { seed: 0 } })));
    expect(video.media).toMatchObject({ kind: 'video', frames: 8 });
    expect(video.label, video.answer).not.toBeNull();
    expect(video.label).toBe(image.label);
  });

  describe.skipIf(!packAvailable('fer2013') || !packAvailable('ckplus') || !packAvailable('utkface'))('on held-out validation faces', () => {
    let expert: FaceExpert;
    beforeAll(async () => {
      expert = await createFaceExpert();
    });
    afterAll(() => expert?.dispose());

    // The model card's protocol: crops as in training, CK+ subjects split as its build split them (20 % to val).
    const evaluate = async (pack: string, limit: number, task: 'expression' | 'age' = 'expression') => {
      const pretrained = await loadPretrained(DEFAULT_MODEL_DIR, { threads: 2 });
      try {
        const faces = expertFaceReader(expert, { crop: 'detect', frames: 8 });
        const result = await runEval({ task, pack, dataRoot: DATA, split: 'val', valFraction: 0.2, limit, faces, answerer: modelAnswerer(pretrained) });
        return result.score;
      } finally {
        await pretrained.dispose();
      }
    };

    // Model card: WAR 0.547 on 1,500 images; majority 0.256.
    it('reads FER2013 expressions better than the majority class', async () => {
      const score = await evaluate('fer2013', 48);
      if (score.task !== 'expression') throw new Error('unreachable');
      expect(score.report.war).toBeGreaterThan(0.3);
    });

    // Model card: WAR 0.952 on the 147 images of the held-out subjects; majority 0.265.
    it('reads CK+ expressions of subjects it never saw', async () => {
      const score = await evaluate('ckplus', 40);
      if (score.task !== 'expression') throw new Error('unreachable');
      expect(score.report.war).toBeGreaterThan(0.6);
    });

    // Model card: MAE 4.83 years on 1,500 images with the age head (5.15 the decoder alone); the train median's 15.38.
    it('reads UTKFace ages far closer than the median age does', async () => {
      const score = await evaluate('utkface', 40, 'age');
      if (score.task !== 'age') throw new Error('unreachable');
      expect(score.report.scored).toBe(40);
      expect(score.report.mae).toBeLessThan(9);
    });
  });
});
