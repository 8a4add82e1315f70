// Which measured cue levels support a label, and which go against it. A supporting cue is what the offline
// annotator explains the label with ("the brows are raised and the eyes wide open: typical of surprise"). A cue
// that goes against an AU or attribute label is left out of the description: the label is the ground truth, and a
// description must not argue with it (CK+ codes AU25 "lips part", so a mouth measured open without AU25 is a
// landmark error more likely than a coding error). Expressions have no conflicting cues: a happy face may keep its
// mouth closed.
import type { CueName } from '../cues.js';
import type { Expression } from '../labels/expression.js';
import type { TaskLabel } from '../build/types.js';

type Levels = Partial<Record<CueName, readonly string[]>>;

const MOUTH_OPEN = ['parted', 'open', 'wide'];

const EXPRESSION_SUPPORT: Readonly<Record<Expression, Levels>> = {
  neutral: {
    mouthOpen: ['closed'],
    lipCorners: ['level'],
    browRaise: ['typical'],
    browFurrow: ['typical'],
    eyeOpen: ['typical'],
    lipAsymmetry: ['even'],
  },
  happy: { lipCorners: ['raised'], mouthWidth: ['wide'], eyeOpen: ['narrowed'], mouthOpen: ['parted', 'open'] },
  sad: { lipCorners: ['lowered'], browFurrow: ['drawn'], eyeOpen: ['narrowed'] },
  surprise: { browRaise: ['raised'], eyeOpen: ['wide'], mouthOpen: ['open', 'wide'] },
  fear: { browRaise: ['raised'], eyeOpen: ['wide'], mouthWidth: ['wide'], mouthOpen: ['parted', 'open'], browFurrow: ['drawn'] },
  disgust: { browRaise: ['lowered'], browFurrow: ['drawn'], eyeOpen: ['narrowed'], lipCorners: ['lowered'], mouthOpen: ['parted'] },
  angry: { browRaise: ['lowered'], browFurrow: ['drawn'], eyeOpen: ['narrowed'], mouthWidth: ['narrow'], mouthOpen: ['closed'] },
  contempt: { lipAsymmetry: ['lopsided'] },
};

/** Per AU: the cue levels it produces, and those it rules out. */
const AU_LINKS: Readonly<Record<number, { supports: Levels; conflicts: Levels }>> = {
  1: { supports: { browRaise: ['raised'] }, conflicts: { browRaise: ['lowered'] } },
  2: { supports: { browRaise: ['raised'] }, conflicts: { browRaise: ['lowered'] } },
  4: { supports: { browFurrow: ['drawn'], browRaise: ['lowered'] }, conflicts: {} },
  5: { supports: { eyeOpen: ['wide'] }, conflicts: { eyeOpen: ['closed', 'narrowed'] } },
  6: { supports: { eyeOpen: ['narrowed'] }, conflicts: { eyeOpen: ['wide'] } },
  7: { supports: { eyeOpen: ['narrowed'] }, conflicts: { eyeOpen: ['wide'] } },
  12: { supports: { lipCorners: ['raised'], mouthWidth: ['wide'] }, conflicts: { lipCorners: ['lowered'] } },
  15: { supports: { lipCorners: ['lowered'] }, conflicts: { lipCorners: ['raised'] } },
  18: { supports: { mouthWidth: ['narrow'] }, conflicts: { mouthWidth: ['wide'] } },
  20: { supports: { mouthWidth: ['wide'] }, conflicts: { mouthWidth: ['narrow'] } },
  22: { supports: { mouthWidth: ['narrow'] }, conflicts: { mouthWidth: ['wide'] } },
  24: { supports: { mouthOpen: ['closed'] }, conflicts: {} },
  25: { supports: { mouthOpen: MOUTH_OPEN }, conflicts: { mouthOpen: ['closed'] } },
  26: { supports: { mouthOpen: ['open', 'wide'] }, conflicts: { mouthOpen: ['closed'] } },
  27: { supports: { mouthOpen: ['open', 'wide'] }, conflicts: { mouthOpen: ['closed', 'parted'] } },
  43: { supports: { eyeOpen: ['closed'] }, conflicts: { eyeOpen: ['typical', 'wide'] } },
};

/** Per attribute: the cue levels it produces when present, and those that go against it when present or absent. */
const ATTRIBUTE_LINKS: Readonly<Record<string, { supports: Levels; conflictsPresent: Levels; conflictsAbsent: Levels }>> = {
  Mouth_Slightly_Open: { supports: { mouthOpen: ['parted', 'open'] }, conflictsPresent: { mouthOpen: ['closed'] }, conflictsAbsent: { mouthOpen: ['parted'] } },
  Smiling: { supports: { lipCorners: ['raised'] }, conflictsPresent: { lipCorners: ['lowered'] }, conflictsAbsent: { lipCorners: ['raised'] } },
  Narrow_Eyes: { supports: { eyeOpen: ['narrowed'] }, conflictsPresent: { eyeOpen: ['wide'] }, conflictsAbsent: { eyeOpen: ['narrowed', 'closed'] } },
};

const has = (levels: Levels, cue: CueName, level: string): boolean => levels[cue]?.includes(level) ?? false;

export interface CueLinks {
  supports(cue: CueName, level: string): boolean;
  conflicts(cue: CueName, level: string): boolean;
}

export function cueLinks(label: TaskLabel): CueLinks {
  switch (label.task) {
    case 'expression': {
      const support = EXPRESSION_SUPPORT[label.value];
      return { supports: (cue, level) => has(support, cue, level), conflicts: () => false };
    }
    case 'au': {
      const links = label.value.map((au) => AU_LINKS[au]).filter((link) => link !== undefined);
      // CK+ codes every mouth opening (25, 26 or 27): none of them means the lips meet.
      const mouthCoded = label.value.some((au) => au === 25 || au === 26 || au === 27);
      const supports = (cue: CueName, level: string): boolean => links.some((link) => has(link.supports, cue, level));
      return {
        supports,
        conflicts: (cue, level) =>
          !supports(cue, level) &&
          (links.some((link) => has(link.conflicts, cue, level)) || (!mouthCoded && cue === 'mouthOpen' && level !== 'closed')),
      };
    }
    case 'attributes': {
      const present = new Set<string>(label.value);
      const entries = Object.entries(ATTRIBUTE_LINKS);
      return {
        supports: (cue, level) => entries.some(([name, link]) => present.has(name) && has(link.supports, cue, level)),
        conflicts: (cue, level) =>
          entries.some(([name, link]) => has(present.has(name) ? link.conflictsPresent : link.conflictsAbsent, cue, level)),
      };
    }
    case 'age':
    case 'deepfake':
      // Landmark geometry neither shows an age nor a forgery: cues are described as context only.
      return { supports: () => false, conflicts: () => false };
  }
}
