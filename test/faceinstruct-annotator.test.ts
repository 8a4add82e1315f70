// The offline annotator and the rule checker: every description states its label in words the evaluation reads
// back, says nothing against it, and claims no cue that was not measured — over random labels of every task
// and random measurements; and the rules catch texts that do otherwise.
import { describe, expect, it } from 'vitest';
import { CUE_NAMES, CUE_SCALES, cueOf, type CueName, type CueReport } from '../src/data/cues.js';
import { CUE_PHRASES } from '../src/data/annotators/cue-phrases.js';
import { describe as describeFace, OfflineAnnotator } from '../src/data/annotators/offline.js';
import { cueClaims } from '../src/data/rater/cue-mentions.js';
import { ageClaims, authenticityClaims, expressionClaims } from '../src/data/rater/mentions.js';
import { checkRules } from '../src/data/rater/rules.js';
import { rngFor, type Rng } from '../src/data/build/random.js';
import type { MediaKind, TaskLabel } from '../src/data/build/types.js';
import { EXPRESSIONS } from '../src/data/labels/expression.js';
import { CKPLUS_AUS } from '../src/data/labels/action-units.js';
import { CELEBA_ATTRIBUTES } from '../src/data/labels/attributes.js';
import { extractActionUnits, extractAge, extractAttributes, extractAuthenticity, extractExpression } from '../src/eval/extract.js';

/** A value inside level `i` of a cue's scale. */
function valueAt(name: CueName, i: number): number {
  const { cuts } = CUE_SCALES[name];
  const lo = i === 0 ? cuts[0] - 0.5 * Math.abs(cuts[0] || 1) : cuts[i - 1];
  const hi = i === cuts.length ? cuts[cuts.length - 1] + 0.5 * Math.abs(cuts[cuts.length - 1] || 1) : cuts[i];
  return (lo + hi) / 2;
}

function randomCues(rng: Rng): CueReport {
  const report: CueReport = {};
  for (const name of CUE_NAMES) {
    if (rng.next() < 0.15) continue; // sometimes not measured at all
    const { levels, neutral } = CUE_SCALES[name];
    const i = rng.next() < 0.5 ? levels.indexOf(neutral) : rng.int(levels.length);
    report[name] = cueOf(name, valueAt(name, i));
  }
  return report;
}

function randomLabel(rng: Rng, task: TaskLabel['task']): TaskLabel {
  switch (task) {
    case 'expression':
      return { task, value: rng.pick(EXPRESSIONS) };
    case 'au':
      return { task, value: rng.shuffle(CKPLUS_AUS).slice(0, rng.int(6)).sort((a, b) => a - b) };
    case 'attributes':
      return { task, value: CELEBA_ATTRIBUTES.filter(() => rng.next() < 0.2) };
    case 'age':
      return { task, value: 1 + rng.int(110) };
    case 'deepfake':
      return { task, value: rng.pick(['real', 'fake'] as const) };
  }
}

/** What the evaluation reads back from a description, for comparison with the label. */
function readBack(text: string, label: TaskLabel): unknown {
  switch (label.task) {
    case 'expression':
      return extractExpression(text);
    case 'deepfake':
      return extractAuthenticity(text);
    case 'au':
      return extractActionUnits(text);
    case 'age':
      return extractAge(text);
    case 'attributes': {
      const readings = extractAttributes(text) ?? {};
      return CELEBA_ATTRIBUTES.filter((name) => (readings as Record<string, string>)[name] === 'present');
    }
  }
}

describe('cue phrases and the cue lexicon', () => {
  it('read every clause back as its own cue and level, and as nothing else', () => {
    for (const name of CUE_NAMES) {
      for (const [level, clauses] of Object.entries(CUE_PHRASES[name])) {
        expect(CUE_SCALES[name].levels).toContain(level);
        for (const clause of clauses) {
          const claims = cueClaims(clause);
          expect(claims.length, clause).toBeGreaterThan(0);
          for (const claim of claims) {
            expect(claim.cue, clause).toBe(name);
            expect(claim.accepts, clause).toContain(level);
          }
          expect([...expressionClaims(clause), ...authenticityClaims(clause), ...ageClaims(clause)], clause).toEqual([]);
        }
      }
    }
  });

  it('has wording for every level of every cue', () => {
    for (const name of CUE_NAMES) for (const level of CUE_SCALES[name].levels) expect(CUE_PHRASES[name][level]?.length, `${name}.${level}`).toBeGreaterThan(0);
  });
});

describe('offline annotator', () => {
  const tasks = ['expression', 'au', 'attributes', 'age', 'deepfake'] as const;

  it.each(tasks)('%s: descriptions pass every rule and read back as their label', (task) => {
    const rng = rngFor('test', task);
    for (let n = 0; n < 300; n++) {
      const label = randomLabel(rng, task);
      const cues = randomCues(rng);
      const media: MediaKind = rng.next() < 0.2 ? 'video' : 'image';
      const text = describeFace({ id: `${task}/${n}`, seed: 'seed', label, media, cues });
      expect(checkRules(text, label, cues), text).toEqual([]);
      const expected = label.task === 'age' ? Math.round(label.value) : label.value;
      expect(readBack(text, label), text).toEqual(expected);
    }
  });

  it('states only cues that were measured', () => {
    const label: TaskLabel = { task: 'expression', value: 'surprise' };
    const none = describeFace({ id: 'a', seed: 'seed', label, media: 'image', cues: {} });
    expect(cueClaims(none)).toEqual([]);
    const mouthOnly: CueReport = { mouthOpen: cueOf('mouthOpen', 0.5) };
    for (let i = 0; i < 20; i++) {
      const text = describeFace({ id: `b${i}`, seed: 'seed', label, media: 'image', cues: mouthOnly });
      expect(cueClaims(text).map((c) => c.cue)).toEqual(['mouthOpen']);
      expect(text).toMatch(/typical of surprise|point to surprise|characteristic of surprise/);
    }
  });

  it('leaves out a measurement that would argue with the label', () => {
    // CK+ codes AU25 (lips part): a mouth measured closed is a landmark miss, not something to state.
    const cues: CueReport = { mouthOpen: cueOf('mouthOpen', 0.02), browRaise: cueOf('browRaise', 0.6) };
    for (let i = 0; i < 20; i++) {
      const text = describeFace({ id: `c${i}`, seed: 'seed', label: { task: 'au', value: [1, 2, 25] }, media: 'image', cues });
      expect(cueClaims(text).map((c) => c.cue)).not.toContain('mouthOpen');
    }
  });

  it('is deterministic per seed and sample, and varies its wording across samples', async () => {
    const label: TaskLabel = { task: 'expression', value: 'happy' };
    const cues: CueReport = { lipCorners: cueOf('lipCorners', 0.2), mouthWidth: cueOf('mouthWidth', 1.3), eyeOpen: cueOf('eyeOpen', 0.15) };
    const annotator = new OfflineAnnotator();
    const request = { id: 'x', seed: 'seed', label, media: 'image' as const, cues, frames: async () => [] };
    expect(await annotator.annotate(request)).toBe(await annotator.annotate({ ...request }));
    const reseeded = await Promise.all(['a', 'b', 'c', 'd'].map((seed) => annotator.annotate({ ...request, seed })));
    expect(new Set(reseeded).size).toBeGreaterThan(1);
    const texts = new Set(Array.from({ length: 100 }, (_, i) => describeFace({ id: `s${i}`, seed: 'seed', label, media: 'image', cues })));
    expect(texts.size).toBeGreaterThan(80);
  });
});

describe('rule checks', () => {
  const rules = (text: string, label: TaskLabel, cues: CueReport = {}): string[] => checkRules(text, label, cues).map((f) => f.rule);
  const happy: TaskLabel = { task: 'expression', value: 'happy' };

  it('require the label, read as the evaluation reads it', () => {
    expect(rules('The person looks happy.', happy)).toEqual([]);
    expect(rules('The person looks sad.', happy)).toEqual(['label_missing', 'label_contradiction']);
    expect(rules('A face, seen from the front.', { task: 'age', value: 30 }, { headYaw: cueOf('headYaw', 0) })).toEqual(['label_missing']);
    expect(rules('No action units are active.', { task: 'au', value: [] })).toEqual([]);
    expect(rules('AU12 (lip corner puller) is active.', { task: 'au', value: [6, 12] })).toEqual(['label_missing']);
  });

  it('catch contradictions, and let negated mentions pass', () => {
    expect(rules('The person looks happy, not sad.', happy)).toEqual([]);
    expect(rules('The person looks happy and a little sad.', happy)).toEqual(['label_contradiction']);
    expect(rules('AU6 (cheek raiser) and AU12 are active; AU4 is present too.', { task: 'au', value: [6, 12] })).toEqual(['label_contradiction']);
    expect(rules('AU6 and AU12 are active, with no AU4.', { task: 'au', value: [6, 12] })).toEqual([]);
    expect(rules('The man is wearing eyeglasses.', { task: 'attributes', value: ['Eyeglasses', 'Male'] })).toEqual([]);
    expect(rules('The woman is wearing glasses.', { task: 'attributes', value: ['Eyeglasses', 'Male'] })).toEqual(['label_missing', 'label_contradiction']);
    expect(rules('About 34 years old, in their mid thirties.', { task: 'age', value: 34 })).toEqual([]);
    expect(rules('About 34 years old, though the hands look like someone in their fifties.', { task: 'age', value: 34 })).toEqual(['label_contradiction']);
    // "but" makes the later verdict the answer, as the evaluation reads it.
    expect(rules('This face is real, but the hair looks generated.', { task: 'deepfake', value: 'real' })).toEqual(['label_missing', 'label_contradiction']);
    expect(rules('This face is real, with no sign of manipulation.', { task: 'deepfake', value: 'real' })).toEqual([]);
  });

  it('catch cues that were not measured, or measured otherwise', () => {
    const raised = { browRaise: cueOf('browRaise', 0.6) };
    expect(rules('The person looks happy; the brows are raised.', happy, raised)).toEqual([]);
    expect(rules('The person looks happy; the brows are raised.', happy, {})).toEqual(['unmeasured_cue']);
    expect(rules('The person looks happy; the brows are lowered.', happy, raised)).toEqual(['unmeasured_cue']);
    expect(rules('The person looks happy with a wide-open mouth.', happy, { mouthOpen: cueOf('mouthOpen', 0.05) })).toEqual(['unmeasured_cue']);
    expect(rules('The person looks happy; the head is turned to the side.', happy, { headYaw: cueOf('headYaw', 0.8) })).toEqual([]);
    // Skin and wrinkles are not landmark cues: left to the judge.
    expect(rules('The person looks happy, with crow’s feet wrinkles.', happy, {})).toEqual([]);
  });

  it('read label words as label statements, not as measurements', () => {
    const closed = { mouthOpen: cueOf('mouthOpen', 0.02) };
    expect(rules('AU25 (lips part) and AU26 (jaw drop) are active.', { task: 'au', value: [25, 26] }, closed)).toEqual([]);
    expect(rules('Attributes: mouth slightly open.', { task: 'attributes', value: ['Mouth_Slightly_Open'] }, closed)).toEqual([]);
  });
});
