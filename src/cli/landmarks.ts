// `face-llava landmarks <file…>`: the face expert on images and videos. Per input one line on stdout (JSON with
// --json), an overlay PNG with --overlay; a bad input is reported and skipped, and makes the exit code 1.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import {
  CROP_SIZE,
  createFaceExpert,
  DEFAULT_MAX_PIXELS,
  FaceExpertError,
  renderOverlay,
  type Box,
  type Face,
  type ImageAnalysis,
  type VideoAnalysis,
} from '../face/index.js';
import { positiveInteger } from './options.js';

interface LandmarksOptions {
  json?: boolean;
  overlay?: string;
  allFaces?: boolean;
  maxFaces?: number;
  skipDetection?: boolean;
  frames: number;
  maxPixels: number;
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));
const boxJson = (b: Box) => ({ x: round(b.x, 1), y: round(b.y, 1), width: round(b.width, 1), height: round(b.height, 1) });

function faceJson(face: Face) {
  return {
    box: boxJson(face.box),
    score: face.score === null ? null : round(face.score, 4),
    cropRegion: boxJson(face.cropRegion),
    crop: { width: face.crop.width, height: face.crop.height },
    // 4 decimals: a fortieth of a crop pixel.
    landmarks68: face.landmarks68.map(([x, y]) => [round(x, 4), round(y, 4)]),
  };
}

function resultJson(file: string, result: ImageAnalysis | VideoAnalysis) {
  if (result.kind === 'image') {
    const { kind, format, width, height, faces } = result;
    return { file, kind, format, width, height, faces: faces.map(faceJson) };
  }
  const { kind, container, width, height, frameCount, fps, sampledIndices, droppedIndices, frames } = result;
  return {
    file,
    kind,
    container,
    width,
    height,
    frameCount,
    fps: fps === null ? null : round(fps, 3),
    sampledIndices,
    droppedIndices,
    frames: frames.map((f) => ({ index: f.index, faces: f.faces.map(faceJson) })),
  };
}

function summary(file: string, result: ImageAnalysis | VideoAnalysis): string {
  const describe = (f: Face): string =>
    `${f.score === null ? 'crop' : `score ${f.score.toFixed(2)}`} at ${Math.round(f.box.x)},${Math.round(f.box.y)} ` +
    `${Math.round(f.box.width)}×${Math.round(f.box.height)}`;
  if (result.kind === 'image') {
    return `${file}: ${result.width}×${result.height} ${result.format}, ${result.faces.length} face(s): ${result.faces.map(describe).join('; ')}`;
  }
  const dropped = result.droppedIndices.length ? `, no face in frames ${result.droppedIndices.join(', ')}` : '';
  return `${file}: ${result.width}×${result.height} video, ${result.frameCount} frames, sampled ${result.sampledIndices.join(', ')}${dropped}`;
}

/** A file name for the input's overlay, unique among this run's overlays (inputs may share a base name). */
function overlayName(file: string, used: Set<string>): string {
  const base = path.basename(file);
  let name = `${base}.png`;
  for (let k = 2; used.has(name); k++) name = `${base}-${k}.png`;
  used.add(name);
  return name;
}

async function runLandmarks(files: string[], options: LandmarksOptions): Promise<void> {
  const expert = await createFaceExpert({ maxPixels: options.maxPixels });
  const overlays = new Set<string>();
  if (options.overlay) await mkdir(options.overlay, { recursive: true });
  let failed = 0;
  try {
    for (const file of files) {
      try {
        const result = await expert.analyze(file, {
          faces: options.allFaces ? 'all' : 'primary',
          maxFaces: options.maxFaces,
          skipDetection: options.skipDetection,
          frames: options.frames,
        });
        process.stdout.write(`${options.json ? JSON.stringify(resultJson(file, result)) : summary(file, result)}\n`);
        if (options.overlay) {
          const faces = result.kind === 'image' ? result.faces : result.frames.flatMap((f) => f.faces);
          await writeFile(path.join(options.overlay, overlayName(file, overlays)), await renderOverlay(faces));
        }
      } catch (err) {
        failed++;
        const error =
          err instanceof FaceExpertError ? err.toJSON() : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
        if (options.json) process.stdout.write(`${JSON.stringify({ file, error })}\n`);
        process.stderr.write(`face-llava landmarks: ${file}: ${error.message} (${error.code})\n`);
      }
    }
  } finally {
    expert.dispose();
  }
  if (failed > 0) process.exitCode = 1;
}

export function registerLandmarksCommand(program: Command): void {
  program
    .command('landmarks')
    .description(
      `find the faces in images and videos: box, score, a ${CROP_SIZE}×${CROP_SIZE} crop and 68 landmarks in crop ` +
        `coordinates (crop pixels / ${CROP_SIZE}); videos are sampled uniformly. Exit code 1 if any input failed.`,
    )
    .argument('<files...>', 'images (JPEG, PNG, WebP, GIF, AVIF, TIFF) or videos (MP4, MOV, WebM, MKV, AVI)')
    .option('--json', 'one JSON line per input: the result, or {file, error: {code, message}}')
    .option('--overlay <dir>', 'write <dir>/<file name>.png: each crop with its points and the 9 face regions')
    .option('--all-faces', 'every face found, not only the primary one (largest, then most central)')
    .option('--max-faces <n>', 'fail an input showing more faces than this (TOO_MANY_FACES)', positiveInteger)
    .option('--skip-detection', 'the inputs are face crops already: the whole picture is the crop')
    .option('--frames <n>', 'frames sampled per video', positiveInteger, 8)
    .option('--max-pixels <n>', 'refuse larger images and frames (PIXEL_LIMIT)', positiveInteger, DEFAULT_MAX_PIXELS)
    .action((files: string[], options: LandmarksOptions) => runLandmarks(files, options));
}
