// How the offline annotator says each measured cue: several clauses per cue level, chosen at random per
// sample. Every clause is read back by the rule checker's cue lexicon (src/data/rater/cue-mentions.ts) as its
// own cue and level — a test holds the two together — and none uses the words of an expression or a
// real/fake verdict, so a clause never says more than the measurement.
import type { CueName } from '../cues.js';

export const CUE_PHRASES: Readonly<Record<CueName, Readonly<Record<string, readonly string[]>>>> = {
  mouthOpen: {
    closed: ['the mouth is closed', 'the lips are closed', 'the lips rest against each other', 'the mouth stays shut'],
    parted: [
      'the lips are slightly parted',
      'the mouth is slightly open',
      'a small gap separates the lips',
      'the mouth is open just a little',
    ],
    open: ['the mouth is open', 'the mouth hangs open', 'the mouth has fallen open', 'the jaw is lowered and the mouth is open'],
    wide: ['the mouth is wide open', 'the mouth gapes wide open', 'the mouth stands wide open', 'the mouth opens wide'],
  },
  mouthWidth: {
    narrow: ['the mouth is narrow', 'the mouth looks compressed from the sides', 'the lips are drawn inward, narrowing the mouth'],
    typical: ['the mouth has its usual width', 'the mouth is of ordinary width'],
    wide: ['the mouth is stretched wide', 'the lips are stretched sideways', 'the mouth is pulled wide', 'the mouth spans wider than usual'],
  },
  lipCorners: {
    lowered: [
      'the corners of the mouth turn down',
      'the lip corners are pulled downward',
      'the mouth corners droop',
      'the lip corners sit below the centre of the lips',
    ],
    level: [
      'the lip corners sit level with the centre of the lips',
      'the mouth corners are neither raised nor lowered',
      'the corners of the mouth stay level',
    ],
    raised: [
      'the corners of the mouth turn up',
      'the lip corners are lifted',
      'the mouth corners curve upward',
      'the lip corners sit above the centre of the lips',
    ],
  },
  lipAsymmetry: {
    even: ['both mouth corners sit at the same height', 'the mouth is symmetrical'],
    lopsided: [
      'one mouth corner sits higher than the other',
      'the mouth is lopsided',
      'the lips are pulled unevenly, with one corner higher than the other',
    ],
  },
  browRaise: {
    lowered: [
      'the brows are lowered',
      'the eyebrows are pulled down toward the eyes',
      'the brows sit low over the eyes',
      'the eyebrows are drawn down',
    ],
    typical: [
      'the brows rest at their usual height',
      'the eyebrows are neither raised nor lowered',
      'the eyebrows sit at a normal height',
    ],
    raised: [
      'the brows are raised',
      'the eyebrows are lifted high above the eyes',
      'the brows are pulled upward',
      'the eyebrows sit high on the forehead',
    ],
  },
  browFurrow: {
    drawn: [
      'the inner ends of the brows are drawn together',
      'the brows are pulled toward each other',
      'the eyebrows are knitted together',
      'the space between the brows has narrowed',
    ],
    typical: ['the brows are a normal distance apart', 'the inner brows are not drawn together'],
  },
  eyeOpen: {
    closed: ['the eyes are closed', 'the eyelids are shut'],
    narrowed: ['the eyes are narrowed', 'the eyelids are partly closed', 'the eyes look narrower than usual'],
    typical: ['the eyes are normally open', 'the eyes are open to their usual extent', 'the eyelids are at their usual opening'],
    wide: ['the eyes are wide open', 'the eyes are opened wide', 'the eyes are widened', 'the eyelids are raised, leaving the eyes wide'],
  },
  headYaw: {
    left: [
      'the head is turned toward the left of the frame',
      'the face is angled to the viewer’s left',
      'the head is rotated to the left side of the image',
    ],
    frontal: ['the face is seen from the front', 'the head faces the camera', 'the face is turned straight toward the viewer'],
    right: [
      'the head is turned toward the right of the frame',
      'the face is angled to the viewer’s right',
      'the head is rotated to the right side of the image',
    ],
  },
  headRoll: {
    left: ['the head is tilted toward the left of the frame', 'the head leans to the viewer’s left', 'the head is tipped sideways to the left'],
    upright: ['the head is held upright', 'the head is not tilted sideways'],
    right: ['the head is tilted toward the right of the frame', 'the head leans to the viewer’s right', 'the head is tipped sideways to the right'],
  },
  headPitch: {
    up: ['the head is tilted back', 'the chin is lifted', 'the face is tipped upward'],
    level: ['the head is held neither up nor down', 'the face is tilted neither up nor down'],
    down: ['the head is tilted downward', 'the head is bowed', 'the chin is lowered toward the chest'],
  },
};
