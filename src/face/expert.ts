// The face expert: media in; faces, their 256×256 crops and 68 crop-normalized landmarks out. Models load once
// per expert; every call decodes, detects, crops and locates landmarks.
import { cropRegion, faceCropRegion, wholeImageRegion } from './crop.js';
import { FaceDetector, type Box } from './detector.js';
import { FaceExpertError } from './errors.js';
import { LandmarkModel } from './landmarks.js';
import { DEFAULT_MAX_PIXELS, decodeImage, openMedia, type ImageFormat, type MediaInput, type VideoContainer } from './media.js';
import type { Point } from './regions.js';
import type { RgbImage } from './rgb.js';
import { orderFaces } from './select.js';
import { sampleVideo, withVideoFile, type FfmpegPaths } from './video.js';

export interface FaceExpertOptions {
  /** Detector confidence a face needs (default 0.5). */
  minScore?: number;
  /** Largest image or video frame accepted, in pixels (default 100 megapixels); bigger inputs are PIXEL_LIMIT errors. */
  maxPixels?: number;
  /** ffmpeg and ffprobe executables (default: `ffmpeg` and `ffprobe` on PATH). */
  ffmpeg?: Partial<FfmpegPaths>;
}

export interface AnalyzeOptions {
  /** `primary` (default): only the main face (largest, then most central). `all`: every face, main one first. */
  faces?: 'primary' | 'all';
  /** More faces than this in a picture is a TOO_MANY_FACES error (default: no limit). */
  maxFaces?: number;
  /** The input is already a face crop: no detection; the whole picture is the crop. */
  skipDetection?: boolean;
}

export interface VideoOptions extends AnalyzeOptions {
  /** How many frames to sample uniformly (default 8, as the paper). */
  frames?: number;
  /** Largest share of sampled frames allowed to show no face (default 0.3, the paper's rule). */
  maxMissingShare?: number;
}

export interface Face {
  /** The detected face in source pixels (the whole picture when detection is skipped). */
  box: Box;
  /** Detector confidence; null when detection is skipped. */
  score: number | null;
  /** The square part of the source the crop shows, in source pixels (it may reach past the edges: black there). */
  cropRegion: Box;
  /** The 68 iBUG landmarks as fractions of the crop's size: crop pixels / 256. */
  landmarks68: Point[];
  /** The face crop, 256×256 RGB: what the vision encoder consumes. */
  crop: RgbImage;
}

export interface ImageAnalysis {
  kind: 'image';
  format: ImageFormat;
  /** Size of the picture, upright (EXIF orientation applied). */
  width: number;
  height: number;
  faces: Face[];
}

export interface VideoFrame {
  index: number;
  faces: Face[];
}

export interface VideoAnalysis {
  kind: 'video';
  container: VideoContainer;
  width: number;
  height: number;
  frameCount: number;
  fps: number | null;
  /** The frame indices sampled: linspace(0, frameCount − 1, frames), rounded. */
  sampledIndices: number[];
  /** The sampled frames that show a face, in sampled order. */
  frames: VideoFrame[];
  /** Sampled indices dropped for showing no face. */
  droppedIndices: number[];
}

export interface FaceExpert {
  /** An image or a video, told apart by the leading bytes. */
  analyze(input: MediaInput, options?: VideoOptions): Promise<ImageAnalysis | VideoAnalysis>;
  analyzeImage(input: MediaInput, options?: AnalyzeOptions): Promise<ImageAnalysis>;
  analyzeVideo(input: MediaInput, options?: VideoOptions): Promise<VideoAnalysis>;
  /** Ends the expert: it cannot be used afterwards (the compiled models stay loaded, shared by the process). */
  dispose(): void;
}

const DEFAULT_FRAMES = 8;
const DEFAULT_MAX_MISSING_SHARE = 0.3;

const scaleBox = (b: Box, sx: number, sy: number): Box => ({ x: b.x * sx, y: b.y * sy, width: b.width * sx, height: b.height * sy });

/** Loads the detector and landmark models (once) and returns the expert. */
export async function createFaceExpert(options: FaceExpertOptions = {}): Promise<FaceExpert> {
  const minScore = options.minScore ?? 0.5;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const tools: FfmpegPaths = { ffmpeg: options.ffmpeg?.ffmpeg ?? 'ffmpeg', ffprobe: options.ffmpeg?.ffprobe ?? 'ffprobe' };
  const [detector, landmarks] = await Promise.all([FaceDetector.load(), LandmarkModel.load()]);
  let disposed = false;

  const checkOpen = (): void => {
    if (disposed) throw new Error('the face expert has been disposed');
  };

  /**
   * Faces of one picture, the primary one first. `image` is the picture as analysed, possibly downscaled from
   * the source, which is `source` pixels big: boxes are reported in source pixels.
   */
  async function facesOf(image: RgbImage, source: { width: number; height: number }, opts: AnalyzeOptions): Promise<Face[]> {
    const sx = source.width / image.width;
    const sy = source.height / image.height;
    const measure = async (box: Box, score: number | null, region: Box): Promise<Face> => {
      const crop = await cropRegion(image, region);
      const landmarks68 = await landmarks.locate(crop);
      return { box: scaleBox(box, sx, sy), score, cropRegion: scaleBox(region, sx, sy), landmarks68, crop };
    };
    if (opts.skipDetection) {
      return [await measure({ x: 0, y: 0, width: image.width, height: image.height }, null, wholeImageRegion(image))];
    }
    const detections = orderFaces(await detector.detect(image, minScore), image);
    if (opts.maxFaces !== undefined && detections.length > opts.maxFaces) {
      throw new FaceExpertError('TOO_MANY_FACES', `found ${detections.length} faces; at most ${opts.maxFaces} allowed`);
    }
    const faces: Face[] = [];
    for (const d of opts.faces === 'all' ? detections : detections.slice(0, 1)) {
      faces.push(await measure(d.box, d.score, faceCropRegion(d.box)));
    }
    return faces;
  }

  async function analyzeOpenedImage(
    media: { format: ImageFormat; source: string | Buffer },
    opts: AnalyzeOptions,
  ): Promise<ImageAnalysis> {
    const { image, width, height } = await decodeImage(media.source, maxPixels);
    const faces = await facesOf(image, { width, height }, opts);
    if (faces.length === 0) throw new FaceExpertError('NO_FACE', 'no face found in the image');
    return { kind: 'image', format: media.format, width, height, faces };
  }

  async function analyzeOpenedVideo(
    media: { container: VideoContainer; source: string | Buffer },
    opts: VideoOptions,
  ): Promise<VideoAnalysis> {
    const count = opts.frames ?? DEFAULT_FRAMES;
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`frames must be a positive integer, got ${count}`);
    const maxMissing = opts.maxMissingShare ?? DEFAULT_MAX_MISSING_SHARE;
    const sampled = await withVideoFile(media.source, (file) => sampleVideo(file, count, tools, maxPixels));
    const { info } = sampled;
    // Frames come out upright (rotation applied) and maybe downscaled: boxes are reported in upright source
    // pixels, so a frame turned by 90° is measured against the swapped coded size.
    const first = sampled.frames.values().next().value as RgbImage;
    const turned = first.width > first.height !== info.width > info.height;
    const source = turned ? { width: info.height, height: info.width } : { width: info.width, height: info.height };
    const facesByIndex = new Map<number, Face[]>();
    for (const [index, frame] of sampled.frames) facesByIndex.set(index, await facesOf(frame, source, opts));
    const frames: VideoFrame[] = [];
    const droppedIndices: number[] = [];
    for (const index of sampled.indices) {
      const faces = facesByIndex.get(index)!;
      if (faces.length > 0) frames.push({ index, faces });
      else droppedIndices.push(index);
    }
    if (droppedIndices.length > maxMissing * sampled.indices.length) {
      throw new FaceExpertError(
        'TOO_FEW_FACE_FRAMES',
        `${droppedIndices.length} of ${sampled.indices.length} sampled frames show no face (at most ${Math.round(maxMissing * 100)} % may)`,
      );
    }
    return {
      kind: 'video',
      container: media.container,
      width: source.width,
      height: source.height,
      frameCount: info.frameCount,
      fps: info.fps,
      sampledIndices: sampled.indices,
      frames,
      droppedIndices,
    };
  }

  return {
    async analyze(input, opts = {}) {
      checkOpen();
      const media = await openMedia(input);
      return media.kind === 'image' ? analyzeOpenedImage(media, opts) : analyzeOpenedVideo(media, opts);
    },
    async analyzeImage(input, opts = {}) {
      checkOpen();
      const media = await openMedia(input);
      if (media.kind !== 'image') throw new FaceExpertError('UNSUPPORTED_MEDIA', 'expected an image, got a video');
      return analyzeOpenedImage(media, opts);
    },
    async analyzeVideo(input, opts = {}) {
      checkOpen();
      const media = await openMedia(input);
      if (media.kind !== 'video') throw new FaceExpertError('UNSUPPORTED_MEDIA', 'expected a video, got an image');
      return analyzeOpenedVideo(media, opts);
    },
    dispose() {
      disposed = true;
    },
  };
}
