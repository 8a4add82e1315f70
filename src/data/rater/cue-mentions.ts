// Reading the geometric cues a description claims ("the brows are raised", "a wide-open mouth", "head tilted
// to one side"), so that the rule checker can hold each claim against what was measured on the face. Only the
// cues of src/data/cues.ts are read: claims about skin, wrinkles or teeth are beyond what landmarks measure and
// are left to the judge.
//
// Each pattern lists the measured levels it is compatible with: "the mouth is open" fits a parted, open or wide
// mouth; "the head is turned to the left" fits either side, because "left" may be the viewer's or the
// subject's. Patterns run in a fixed order and each match is blanked out before the next pattern runs, so that
// "neither raised nor lowered" is read once, as neutral, and not again as "raised".
import type { CueName } from '../cues.js';

export interface CueClaim {
  readonly cue: CueName;
  /** The measured levels this wording is compatible with. */
  readonly accepts: readonly string[];
  readonly text: string;
}

interface CuePattern {
  readonly cue: CueName;
  readonly accepts: readonly string[];
  readonly pattern: RegExp;
}

// A claim stays within one clause: "the mouth is stretched wide, while the eyes look narrower" says nothing of
// a narrow mouth.
const CLAUSE = '[^.;:!?,]';
/** `subject`, then within `gap` characters of the same clause, `predicate`. */
const near = (subject: string, predicate: string, gap = 30): string =>
  `\\b(?:${subject})\\b${CLAUSE}{0,${gap}}?\\b(?:${predicate})\\b`;
const before = (adjective: string, noun: string): string => `\\b(?:${adjective})\\s+(?:${noun})\\b`;

const MOUTH = 'mouth|lips';
const CORNERS = "(?:lip|mouth) corners?|corners? of (?:the|his|her|their) (?:mouth|lips)";
const BROWS = '(?:eye)?brows?';
const EYES = 'eyes?|eyelids?|lids';
const HEAD = 'head|face';
const WORDS = "(?:\\s+[\\w'’]+){0,4}";

function p(cue: CueName, accepts: readonly string[], ...alternatives: string[]): CuePattern {
  return { cue, accepts, pattern: new RegExp(alternatives.join('|'), 'gi') };
}

const PATTERNS: readonly CuePattern[] = [
  p('lipAsymmetry', ['even'], near(`${CORNERS}|mouth`, 'at the same height|symmetric(?:al|ally)?|evenly placed')),
  p(
    'lipAsymmetry',
    ['lopsided'],
    near('one (?:mouth |lip )?corner|one side of the (?:mouth|lips)', 'higher|raised|lifted|lower|pulled up'),
    near(`${MOUTH}|${CORNERS}`, 'lopsided|asymmetric(?:al|ally)?|uneven(?:ly)?|one-sided|unilateral(?:ly)?'),
    before('lopsided|asymmetric(?:al)?|uneven|one-sided|unilateral|crooked', 'mouth|lips|smile|grin|smirk|lip raise'),
  ),
  p(
    'mouthOpen',
    ['open', 'wide'],
    near(`${MOUTH}|jaw`, 'wide open|open(?:s|ed)? wide|gap(?:es|ing)|agape|fully open|stretched open|far apart|wide apart', 25),
    before('wide[- ]open|gaping', 'mouth'),
  ),
  p(
    'mouthOpen',
    ['parted', 'open'],
    near(MOUTH, '(?:slightly|partly|partially|a little|barely|just) (?:open|opened|parted|apart)|parted|apart|ajar|open just a little', 25),
    before('parted|slightly open(?:ed)?|half[- ]open', MOUTH),
    'gap (?:separates|between) the lips',
  ),
  p('mouthOpen', ['parted', 'open', 'wide'], near('mouth', 'open(?:s|ed)?', 20), before('open(?:ed)?', 'mouth')),
  p('mouthOpen', ['closed'], near(MOUTH, 'closed|shut|sealed|together|against each other', 25), before('closed|shut|sealed', MOUTH)),
  p('mouthWidth', ['typical'], near('mouth', 'usual width|ordinary width|normal width|typical width', 25)),
  p(
    'mouthWidth',
    ['wide'],
    near(MOUTH, 'stretched|pulled (?:wide|sideways|outward|back)|widened|spans? wider|wider than usual', 25),
    before('stretched|widened|wide', MOUTH),
  ),
  p(
    'mouthWidth',
    ['narrow'],
    near(MOUTH, 'narrow(?:ed|er|ing)?|compressed|pursed|puckered|drawn inward', 25),
    before('narrow|pursed|puckered|compressed', MOUTH),
  ),
  p('lipCorners', ['level'], near(CORNERS, 'level|neither raised nor lowered|horizontal|neutral')),
  p(
    'lipCorners',
    ['raised'],
    near(
      CORNERS,
      'turn(?:s|ed)? up(?:ward)?|lift(?:ed|s)?|raised|rais(?:e|es|ing)|curv(?:e|es|ed|ing) up(?:ward)?|pulled up(?:ward)?|upturned|point(?:s|ing)? up(?:ward)?|sit above|higher than the cent(?:re|er)',
    ),
    before('raised|lifted|upturned|upward[- ]curving|upward', CORNERS),
  ),
  p(
    'lipCorners',
    ['lowered'],
    near(
      CORNERS,
      'turn(?:s|ed)? down(?:ward)?|droop(?:s|ing)?|lowered|pulled down(?:ward)?|downturned|sag(?:s|ging)?|point(?:s|ing)? down(?:ward)?|sit below|depressed|lower than the cent(?:re|er)',
    ),
    before('lowered|drooping|downturned|sagging|depressed', CORNERS),
  ),
  p('browFurrow', ['typical'], near(BROWS, 'normal distance apart|well apart|not drawn together|unfurrowed|not furrowed', 35)),
  p(
    'browFurrow',
    ['drawn'],
    near(BROWS, '(?:drawn|pulled|knit(?:ted)?|pinched|pushed|squeezed) (?:closer )?together|toward each other|towards each other|furrow(?:ed|s|ing)?|knit(?:ted)?', 35),
    before('furrowed|knitted|knit', BROWS),
    `space between the ${BROWS} (?:has )?narrow(?:s|ed)?`,
    `furrows? (?:between|in) the ${BROWS}`,
  ),
  p('browRaise', ['typical'], near(BROWS, 'usual height|normal height|neither raised nor lowered|resting height|neutral position|typical height')),
  p(
    'browRaise',
    ['raised'],
    near(BROWS, 'raised|lifted|rais(?:e|es|ing)|pulled (?:up|upward)|arched up|sit high|high on the forehead|elevated|shot up|go up'),
    before('raised|lifted|elevated|high', BROWS),
  ),
  p(
    'browRaise',
    ['lowered'],
    near(BROWS, 'lowered|pulled down(?:ward)?|drawn down|sit low|low over|pressed down|dropped|lower(?:s|ing)?'),
    before('lowered|low|sunken', BROWS),
  ),
  p(
    'eyeOpen',
    ['typical'],
    near(EYES, 'normally open|open normally|usual extent|usual opening|normal opening|neither widened nor narrowed|moderately open|open as usual'),
  ),
  p(
    'eyeOpen',
    ['closed', 'narrowed'],
    near(EYES, 'narrow(?:ed|er|ing)?|squint(?:ed|ing)?|half[- ]closed|partly closed|partially closed|tightened|slits?'),
    before('narrow(?:ed)?|squinting|squinted|half-closed|tightened', 'eyes?|eyelids?'),
  ),
  p('eyeOpen', ['closed'], near(EYES, 'closed|shut', 15), before('closed|shut', 'eyes|eyelids')),
  p(
    'eyeOpen',
    ['wide'],
    near(EYES, 'wide(?:ned)?|wide open|opened wide|open wide|bulging|enlarged', 20),
    before('wide(?:ned)?|wide-open|bulging', 'eyes?'),
    '\\bwide-eyed\\b',
  ),
  p('headRoll', ['upright'], near(HEAD, 'upright|not tilted sideways|held straight|not tilted', 25)),
  p(
    'headRoll',
    ['left', 'right'],
    near(HEAD, `(?:tilt(?:ed|s|ing)?|lean(?:s|ing|ed)?|cocked|tipped sideways|inclined)${WORDS}\\s+(?:left|right|sideways|to (?:one|the) side|shoulder)`),
  ),
  p('headPitch', ['level'], near(HEAD, '(?:tilted |tipped |held )?neither (?:tilted |tipped )?up nor down|not tipped up or down|held level')),
  p(
    'headPitch',
    ['up'],
    near(HEAD, 'tilted (?:back|up(?:ward)?)|tipped (?:back|up(?:ward)?)|thrown back|angled up(?:ward)?'),
    near('chin', 'lifted|tilted up|points? up', 20),
    '\\blooking up(?:ward)?\\b',
  ),
  p(
    'headPitch',
    ['down'],
    near(HEAD, 'tilted down(?:ward)?|tipped down(?:ward)?|bowed|lowered|angled down(?:ward)?|looks? down'),
    near('chin', 'lowered|tucked|down toward', 20),
    '\\blooking down(?:ward)?\\b',
  ),
  p(
    'headYaw',
    ['frontal'],
    'seen from the front|(?:faces?|facing) (?:the camera|forward|the viewer)|frontal (?:view|pose)|straight toward the viewer|head-on|straight on',
  ),
  p(
    'headYaw',
    ['left', 'right'],
    near(HEAD, `(?:turn(?:ed|s|ing)?|rotat(?:ed|es|ing)|angled|averted)${WORDS}\\s+(?:left|right|side|away)`),
    'in profile|three-quarter (?:view|profile|pose)|half profile',
  ),
];

/** The cue claims of a text, in pattern order. */
export function cueClaims(text: string): CueClaim[] {
  let rest = text;
  const out: CueClaim[] = [];
  for (const { cue, accepts, pattern } of PATTERNS) {
    rest = rest.replace(pattern, (match) => {
      out.push({ cue, accepts, text: match });
      return ' '.repeat(match.length);
    });
  }
  return out;
}
