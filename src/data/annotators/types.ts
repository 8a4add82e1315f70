// The one interface every annotator implements: given a face sample and its ground-truth label, write the
// description that becomes the answer of a FaceInstruct sample.
import type { CueReport } from '../cues.js';
import type { MediaKind, TaskLabel } from '../build/types.js';

export interface AnnotationRequest {
  /** The sample's id. */
  readonly id: string;
  /** The build's seed: an annotator that varies its wording draws from a generator seeded with (seed, id). */
  readonly seed: string;
  readonly label: TaskLabel;
  readonly media: MediaKind;
  /** The cues measured on the face (empty when none could be). */
  readonly cues: CueReport;
  /** The face crops, JPEG: one for an image, one per sampled frame for a video. Read only by annotators that look. */
  readonly frames: () => Promise<Buffer[]>;
}

export interface Annotator {
  /** Recorded in every sample (`annotator`), e.g. `offline` or `openai:gpt-4o-mini`. */
  readonly name: string;
  annotate(request: AnnotationRequest): Promise<string>;
}
