// Offline rule checks on a description, run on every sample whatever wrote it:
// - label_missing: the evaluation's own label reader (src/eval/extract.ts) does not read the label back from the
//   description — so a model trained on it would not be scored right for saying it;
// - label_contradiction: some claim goes against the label (another emotion, an AU or attribute the label
//   leaves out, a different age, the other verdict), or denies what the label says;
// - unmeasured_cue: it claims a geometric cue (mouth, lip corners, brows, eyes, head pose) that was not
//   measured on this face, or that the measurement contradicts.
import type { CueReport } from '../cues.js';
import { CELEBA_ATTRIBUTES } from '../labels/attributes.js';
import { extractActionUnits, extractAge, extractAttributes, extractAuthenticity, extractExpression } from '../../eval/extract.js';
import type { TaskLabel } from '../build/types.js';
import { cueClaims } from './cue-mentions.js';
import { ageClaims, attributeClaims, auClaims, authenticityClaims, expressionClaims, type Claim } from './mentions.js';

export const RULES = ['label_missing', 'label_contradiction', 'unmeasured_cue'] as const;
export type Rule = (typeof RULES)[number];

export interface RuleFailure {
  readonly rule: Rule;
  readonly detail: string;
}

interface LabelReading {
  /** Where the text uses the label vocabulary; blanked before cues are read. */
  spans: { start: number; end: number }[];
  missing: string[];
  contradictions: string[];
}

/** Ages within this many years of the label agree with it (labels are whole years; readers take midpoints). */
const AGE_SLACK = 2;

function against<L>(text: string, claims: readonly Claim<L>[], holds: (label: L) => boolean, name: (label: L) => string): string[] {
  return claims
    .filter((c) => holds(c.label) !== c.present)
    .map((c) => `${JSON.stringify(text.slice(c.start, c.end))} ${c.present ? 'claims' : 'denies'} ${name(c.label)}`);
}

function readLabel(text: string, label: TaskLabel): LabelReading {
  switch (label.task) {
    case 'expression': {
      const claims = expressionClaims(text);
      const read = extractExpression(text);
      return {
        spans: claims,
        missing: read === label.value ? [] : [`${label.value} (reads as ${read ?? 'nothing'})`],
        contradictions: against(text, claims, (l) => l === label.value, String),
      };
    }
    case 'deepfake': {
      const claims = authenticityClaims(text);
      const read = extractAuthenticity(text);
      return {
        spans: claims,
        missing: read === label.value ? [] : [`${label.value} (reads as ${read ?? 'nothing'})`],
        contradictions: against(text, claims, (l) => l === label.value, String),
      };
    }
    case 'au': {
      const present = new Set(label.value);
      const claims = auClaims(text);
      const read = extractActionUnits(text);
      const missing = label.value.filter((au) => !read?.includes(au)).map((au) => `AU${au}`);
      if (label.value.length === 0 && read === null) missing.push('"no action units"');
      return { spans: claims, missing, contradictions: against(text, claims, (au) => present.has(au), (au) => `AU${au}`) };
    }
    case 'attributes': {
      const present = new Set<string>(label.value);
      const claims = attributeClaims(text);
      const read = extractAttributes(text);
      const missing = CELEBA_ATTRIBUTES.filter((name) => present.has(name) && read?.[name] !== 'present');
      return { spans: claims, missing, contradictions: against(text, claims, (name) => present.has(name), String) };
    }
    case 'age': {
      const age = label.value;
      const claims = ageClaims(text);
      const read = extractAge(text);
      return {
        spans: claims,
        missing: read !== null && Math.abs(read - age) <= 1 ? [] : [`age ${age} (reads as ${read ?? 'nothing'})`],
        contradictions: claims
          .filter((c) => age < c.min - AGE_SLACK || age > c.max + AGE_SLACK)
          .map((c) => `${JSON.stringify(text.slice(c.start, c.end))} disagrees with ${age}`),
      };
    }
  }
}

/** What the text says against the label (empty when it says nothing against it). */
export function labelContradictions(text: string, label: TaskLabel): string[] {
  return readLabel(text, label).contradictions;
}

/** The rules a description breaks, in rule order; empty when it passes. */
export function checkRules(text: string, label: TaskLabel, cues: CueReport): RuleFailure[] {
  const reading = readLabel(text, label);
  const failures: RuleFailure[] = [];
  if (reading.missing.length > 0) failures.push({ rule: 'label_missing', detail: `does not state ${reading.missing.join(', ')}` });
  for (const detail of reading.contradictions) failures.push({ rule: 'label_contradiction', detail });

  // Label words are the label rules' business: "AU25 (lips part)" or "mouth slightly open" state a label, not a
  // measurement, so they are blanked before cues are read.
  let rest = text;
  for (const { start, end } of reading.spans) rest = rest.slice(0, start) + ' '.repeat(end - start) + rest.slice(end);
  for (const claim of cueClaims(rest)) {
    const measured = cues[claim.cue];
    const quoted = JSON.stringify(claim.text.trim());
    if (!measured) failures.push({ rule: 'unmeasured_cue', detail: `${quoted}: ${claim.cue} was not measured` });
    else if (!claim.accepts.includes(measured.level)) {
      failures.push({ rule: 'unmeasured_cue', detail: `${quoted}: ${claim.cue} measured ${measured.level}` });
    }
  }
  return failures;
}
