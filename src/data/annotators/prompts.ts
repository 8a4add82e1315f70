// The label-conditioned annotation prompts of the LLM annotator, after the paper's FaceInstruct recipe (SPEC §4):
// the model sees the face, is told its ground-truth label ("the video is tagged as …") and asked to explain why,
// focusing on the cues of the task. Written for this project.
import { auName } from '../labels/action-units.js';
import { ATTRIBUTES, CELEBA_ATTRIBUTES } from '../labels/attributes.js';
import type { MediaKind, TaskLabel } from '../build/types.js';

export const ANNOTATION_SYSTEM =
  'You are an expert in facial behaviour analysis, trained in the Facial Action Coding System and in face perception. ' +
  'You write precise, factual descriptions of faces for a dataset that teaches a model to explain its predictions.';

const STYLE =
  'Describe only what is visible. State the label explicitly in your first sentence and never suggest a different one. ' +
  'Write one paragraph of 3 to 5 sentences in the third person, and do not mention that a label or tag was given.';

function subject(media: MediaKind, frames: number): string {
  return media === 'video' ? `The video (${frames} frames sampled uniformly, shown in order)` : 'The image';
}

/** The user prompt for one sample; the face crops go with it as images. */
export function annotationPrompt(label: TaskLabel, media: MediaKind, frames: number): string {
  const tagged = `${subject(media, frames)} is tagged`;
  switch (label.task) {
    case 'expression':
      return (
        `${tagged} with the facial expression "${label.value}". Explain why the face shows ${label.value}, ` +
        'focusing on the facial expression: the eyebrows, eyes, nose, cheeks and mouth, and how they move or are held. ' +
        STYLE
      );
    case 'au': {
      const list = label.value.map((au) => `AU${au} (${auName(au)})`).join(', ');
      return label.value.length === 0
        ? `${tagged} with no active facial action units. Explain why the face shows no action unit activity, ` +
            'describing the resting state of the brows, eyes, cheeks and mouth. Say explicitly that no action units are active. ' + STYLE
        : `${tagged} with these active FACS action units: ${list}. Explain why each of them is present, focusing on the ` +
            'facial muscle movements and the appearance changes they cause. Mention every listed action unit by its code and ' +
            'FACS name, and do not claim any other action unit. ' + STYLE;
    }
    case 'attributes': {
      const present = label.value.map((name) => ATTRIBUTES[name].phrase);
      const absent = CELEBA_ATTRIBUTES.filter((name) => !label.value.includes(name)).map((name) => ATTRIBUTES[name].phrase);
      return (
        `${tagged} with these facial attributes: ${present.join(', ') || 'none'}. Describe the face, explaining what ` +
        'shows each of these attributes. Mention every listed attribute, and do not describe the face as having any of ' +
        `these, which are absent: ${absent.join(', ')}. ` + STYLE
      );
    }
    case 'age':
      return (
        `${tagged} as showing a person ${Math.round(label.value)} years old. Explain why the face looks about that age, ` +
        'focusing on age-related cues such as skin texture, wrinkles and folds, facial proportions and hair. State the age ' +
        'as a number of years. ' + STYLE
      );
    case 'deepfake':
      return label.value === 'real'
        ? `${tagged} as real: an authentic, unmanipulated capture of a real person. Explain why the face looks real, ` +
            'focusing on skin texture, lighting and shadows, the eyes and teeth, hair, and the boundary between face and ' +
            'background. ' + STYLE
        : `${tagged} as fake: the face is synthesised or manipulated. Explain why the face looks fake, focusing on ` +
            'generation artefacts: skin texture, lighting and shadows, asymmetries, the eyes and teeth, hair, and the ' +
            'boundary between face and background. ' + STYLE;
  }
}
