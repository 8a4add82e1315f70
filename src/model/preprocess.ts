// From a face crop (8-bit RGB, 256×256 from the face expert, or any size) to the pixel tensor the vision encoder
// takes: resize, crop, scale to [0, 1], normalize per channel. The CLIP recipe (SPEC §6) is the default: shorter
// side to the encoder's size with a bicubic filter, centre crop, CLIP mean and std. A network imported from an npm
// package states its own recipe in the same terms (face-api: mean = its RGB mean / 255, std = 1).
import sharp from 'sharp';
import { z } from 'zod';
import type { RgbImage } from '../face/rgb.js';
import { hostTensor, type HostTensor } from '../graph/host.js';

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

const triple = (item: z.ZodNumber) => z.tuple([item, item, item]);

/**
 * How crops become encoder input, the `preprocess` block of a model directory's config.json. A value is
 * `(pixel / 255 − mean[c]) / std[c]` for channel c in `channels_order`; the tensor is [3, image_size, image_size].
 */
export const PreprocessSchema = z.object({
  image_size: z.number().int().positive(),
  mean: triple(z.number()).default([...CLIP_MEAN]),
  std: triple(z.number().positive()).default([...CLIP_STD]),
  resize: z.enum(['bicubic', 'bilinear']).default('bicubic'),
  /** `center`: shorter side to image_size, then the centre square; `none`: the whole crop stretched to the square. */
  crop: z.enum(['center', 'none']).default('center'),
  /** The order of the colour channels in the tensor. */
  channels_order: z.enum(['rgb', 'bgr']).default('rgb'),
});

export type Preprocess = z.output<typeof PreprocessSchema>;
export type PreprocessInput = z.input<typeof PreprocessSchema>;

/** The CLIP recipe at a given size (224 for the released LanguageBind tower). */
export function clipPreprocess(imageSize: number): Preprocess {
  return PreprocessSchema.parse({ image_size: imageSize });
}

/**
 * The size the crop is resized to before the centre crop. As Hugging Face's CLIPImageProcessor
 * (`get_resize_output_image_size`): the shorter side becomes `size`, the longer one `floor(size · long / short)`.
 */
function resizedSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.floor((size * height) / width) };
  return { width: Math.floor((size * width) / height), height: size };
}

/** One crop as the encoder's input [3, image_size, image_size], float32. */
export async function preprocessCrop(crop: RgbImage, p: Preprocess): Promise<HostTensor> {
  const size = p.image_size;
  const target = p.crop === 'center' ? resizedSize(crop.width, crop.height, size) : { width: size, height: size };
  // sharp's `cubic` is Catmull-Rom, the a = −0.5 Keys filter of PIL's BICUBIC; both filters antialias when shrinking.
  const kernel = p.resize === 'bicubic' ? sharp.kernel.cubic : sharp.kernel.linear;
  let pipeline = sharp(crop.rgb, { raw: { width: crop.width, height: crop.height, channels: 3 } });
  if (target.width !== crop.width || target.height !== crop.height) {
    pipeline = pipeline.resize(target.width, target.height, { kernel, fit: 'fill' });
  }
  if (target.width !== size || target.height !== size) {
    // The centre crop of Hugging Face's `center_crop`: offsets rounded down. After resize, so it cuts resized pixels.
    pipeline = pipeline.extract({ left: Math.floor((target.width - size) / 2), top: Math.floor((target.height - size) / 2), width: size, height: size });
  }
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size || info.height !== size) {
    throw new Error(`preprocess: expected ${size}×${size}×3 from sharp, got ${info.width}×${info.height}×${info.channels}`);
  }
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  const order = p.channels_order === 'rgb' ? [0, 1, 2] : [2, 1, 0];
  order.forEach((source, c) => {
    const scale = 1 / (255 * p.std[c]);
    const shift = p.mean[c] / p.std[c];
    for (let i = 0; i < plane; i++) out[c * plane + i] = data[3 * i + source] * scale - shift;
  });
  return hostTensor('float32', [3, size, size], out);
}

/** Frames (an image is one) as the encoder's batch [F, 3, image_size, image_size]. */
export async function preprocessFrames(crops: readonly RgbImage[], p: Preprocess): Promise<HostTensor> {
  if (crops.length === 0) throw new Error('preprocess: no frames');
  const frames = await Promise.all(crops.map((crop) => preprocessCrop(crop, p)));
  const size = 3 * p.image_size * p.image_size;
  const out = new Float32Array(frames.length * size);
  frames.forEach((frame, f) => out.set(frame.data as Float32Array, f * size));
  return hostTensor('float32', [frames.length, 3, p.image_size, p.image_size], out);
}
