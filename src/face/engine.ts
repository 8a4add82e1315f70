// The face models on the project's engine: TF.js graph models shipped in @vladmandic/human, imported by
// graph/tfjs-import.ts and compiled for onnxruntime once per process (weights as initializers). Nothing is fetched.
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Dim } from '../graph/graph.js';
import type { HostTensor } from '../graph/host.js';
import type { Session } from '../graph/session.js';
import { compileImported, importTfjsModel, loadTfjsModel } from '../graph/tfjs-import.js';

const require = createRequire(import.meta.url);

/**
 * The folder of the models shipped in @vladmandic/human. The package's export map only exposes its bundles, so the
 * folder is found beside the bundle that `require.resolve` names (resolving does not load it).
 */
export function humanModelsDir(): string {
  return path.resolve(path.dirname(require.resolve('@vladmandic/human')), '../models');
}

/** A compiled face model: one NHWC float32 input of batch 1, outputs in TF's layout. */
export interface FaceModel {
  readonly session: Session;
  readonly input: string;
  readonly outputs: readonly { name: string; shape: readonly Dim[] }[];
}

const compiled = new Map<string, Promise<FaceModel>>();

/**
 * The human model `file` (e.g. `blazeface.json`) for a `size`² input, compiled on the first call; later calls
 * share it. Sessions stay loaded for the life of the process.
 */
export function faceModel(file: string, size: number): Promise<FaceModel> {
  let model = compiled.get(file);
  if (!model) {
    model = (async (): Promise<FaceModel> => {
      const imported = importTfjsModel(await loadTfjsModel(path.join(humanModelsDir(), file)), {
        inputSize: [size, size],
        batch: 1,
        graphName: path.basename(file, '.json'),
      });
      if (imported.inputs.length !== 1) throw new Error(`${file}: expected one input, got ${imported.inputs.length}`);
      const session = await compileImported(imported);
      return { session, input: imported.inputs[0].name, outputs: imported.outputs.map((o) => ({ name: o.name, shape: o.shape })) };
    })();
    compiled.set(file, model);
    model.catch(() => compiled.delete(file));
  }
  return model;
}

/** Runs a face model on one NHWC image and returns its outputs by name. */
export function runFaceModel(model: FaceModel, pixels: Float32Array, size: number): Promise<Record<string, HostTensor>> {
  const input: HostTensor = { dtype: 'float32', shape: [1, size, size, 3], data: pixels };
  return model.session.run({ [model.input]: input });
}
