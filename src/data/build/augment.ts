// Augmented views of training images (`data build --augment N`). A small source seen many times an epoch (CK+,
// real/fake: a few hundred images repeated to fill their share of the mixture) is memorised by a decoder trained
// from scratch: the shipped model reproduced the training answers of the real/fake images from their exact cached
// features, yet called 112 of those 119 fake training images real once they were cropped without the cache's JPEG
// round trip (features ~4 % different) — see docs/default-model-pilot.md. Each view is a new picture of the same face
// (mirrored, slightly rotated, at a lower resolution, with other light and JPEG quality), so nothing but what is
// common to the views can be learned from it.
//
// A view goes through the whole build like any file: the face expert finds the face and its landmarks in the
// transformed picture, the annotator measures cues on those landmarks and describes them (a mirrored face's
// turned-left head is described as turned right), the rules check the description. Labels are taken as invariant
// to the transforms: expressions, action units (CK+ codes are not lateralised), the CelebA attributes (none is
// left/right), age, and real/fake — for which the policy is milder (no loss of resolution, high JPEG quality),
// because a synthetic face's cue is fine texture that blurring and coarse JPEG erase.
//
// Views are drawn by a generator seeded with the build's seed, the row id and the view index, so a rerun or a
// resumed build makes the same views. Only rows assigned to the train split get views (a validation row never
// does), and only still images (by file extension); a video row is passed on alone.
import sharp from 'sharp';
import type { Task } from './types.js';
import { rngFor, type Rng } from './random.js';
import type { SourceEvent, SourceItem } from './sources.js';
import { assignSplit } from './splits.js';

/** How far each transform may go. */
export interface AugmentPolicy {
  /** Chance of a horizontal mirror. */
  readonly flip: number;
  /** Largest rotation, degrees either way. */
  readonly rotate: number;
  /** Smallest resolution kept (the picture is shrunk to this share of its size and enlarged back); 1: none. */
  readonly minScale: number;
  /** Largest relative change of brightness and of saturation. */
  readonly colour: number;
  /** Range of the view's JPEG quality. */
  readonly jpegQuality: readonly [number, number];
}

const DEFAULT_POLICY: AugmentPolicy = { flip: 0.5, rotate: 10, minScale: 0.6, colour: 0.2, jpegQuality: [75, 95] };

/** Synthetic-face detection keeps the fine texture: no resolution loss, little recompression. */
const DEEPFAKE_POLICY: AugmentPolicy = { flip: 0.5, rotate: 5, minScale: 1, colour: 0.1, jpegQuality: [90, 95] };

export function augmentPolicy(task: Task): AugmentPolicy {
  return task === 'deepfake' ? DEEPFAKE_POLICY : DEFAULT_POLICY;
}

const IMAGE_EXTENSION = /\.(jpe?g|png|webp|bmp|tiff?|gif|avif)$/i;

/** The id of view `view` (1-based) of a row: `<row id>#aug<view>`. */
export const augmentedId = (id: string, view: number): string => `${id}#aug${view}`;

const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng.next();

/** One augmented view of an image, as JPEG bytes of the same size. */
export async function augmentImage(bytes: Buffer, rng: Rng, policy: AugmentPolicy): Promise<Buffer> {
  // Every draw is made, in a fixed order, whatever the policy skips: a view's transform depends only on its seed.
  const flip = rng.next() < policy.flip;
  const angle = uniform(rng, -policy.rotate, policy.rotate);
  const scale = uniform(rng, policy.minScale, 1);
  const brightness = 1 + uniform(rng, -policy.colour, policy.colour);
  const saturation = 1 + uniform(rng, -policy.colour, policy.colour);
  const quality = Math.round(uniform(rng, policy.jpegQuality[0], policy.jpegQuality[1]));

  const source = sharp(bytes, { failOn: 'error' }).rotate(); // EXIF orientation first, as the face expert reads it
  const { data, info } = await source.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  let image = sharp(data, { raw: { width, height, channels: info.channels } });
  if (flip) image = image.flop();
  if (Math.abs(angle) > 0.01) {
    // Rotation grows the canvas (black corners); the centre is cut back to the original size.
    const rotated = await image.rotate(angle, { background: { r: 0, g: 0, b: 0 } }).raw().toBuffer({ resolveWithObject: true });
    const left = Math.floor((rotated.info.width - width) / 2);
    const top = Math.floor((rotated.info.height - height) / 2);
    image = sharp(rotated.data, { raw: { width: rotated.info.width, height: rotated.info.height, channels: rotated.info.channels } }).extract({
      left,
      top,
      width,
      height,
    });
  }
  if (scale < 0.999) {
    const small = await image
      .resize(Math.max(8, Math.round(width * scale)), Math.max(8, Math.round(height * scale)), { kernel: 'lanczos3' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    image = sharp(small.data, { raw: { width: small.info.width, height: small.info.height, channels: small.info.channels } }).resize(width, height, {
      kernel: 'cubic',
    });
  }
  return image.modulate({ brightness, saturation }).jpeg({ quality }).toBuffer();
}

/** View `view` of a train row: same face, label, subject and split; its own id, so its own instruction draw. */
export function augmentedItem(item: SourceItem, view: number, seed: string, policy: AugmentPolicy): SourceItem {
  return {
    ...item,
    id: augmentedId(item.id, view),
    // The view's split is its row's: pinned, since a split drawn per file would hash the new id.
    split: 'train',
    read: async () => augmentImage(await item.read(), rngFor(seed, 'augment', item.id, view), policy),
  };
}

/**
 * The build's events with `views` augmented views after each train image row. Deterministic, so the resume
 * check (the row at the checkpoint has the id it had) holds.
 */
export async function* withAugmentedViews(
  events: AsyncIterable<SourceEvent>,
  o: { views: number; seed: string; task: Task; valFraction: number },
): AsyncGenerator<SourceEvent> {
  const policy = augmentPolicy(o.task);
  for await (const event of events) {
    yield event;
    if (!('item' in event) || o.views <= 0) continue;
    const item = event.item;
    if (!IMAGE_EXTENSION.test(item.file) || assignSplit(item, o.valFraction) !== 'train') continue;
    for (let view = 1; view <= o.views; view++) yield { item: augmentedItem(item, view, o.seed, policy) };
  }
}
