// Which face a picture is about: the largest, and among faces of about the same size the most central.
import type { Box } from './detector.js';

/**
 * Faces whose area is within this fraction of the largest one count as equally large, so that detector jitter
 * between two similar faces (two people side by side) does not decide; centrality does.
 */
const SAME_SIZE = 0.8;

const area = (b: Box): number => b.width * b.height;

/**
 * Faces ordered by importance: first the primary face (largest, then most central), then the others
 * by decreasing area.
 */
export function orderFaces<T extends { box: Box }>(faces: readonly T[], image: { width: number; height: number }): T[] {
  if (faces.length === 0) return [];
  const bySize = [...faces].sort((a, b) => area(b.box) - area(a.box));
  const largest = area(bySize[0].box);
  const offCentre = (b: Box): number =>
    Math.hypot(b.x + b.width / 2 - image.width / 2, b.y + b.height / 2 - image.height / 2);
  const primary = bySize
    .filter((f) => area(f.box) >= SAME_SIZE * largest)
    .reduce((best, f) => (offCentre(f.box) < offCentre(best.box) ? f : best));
  return [primary, ...bySize.filter((f) => f !== primary)];
}
