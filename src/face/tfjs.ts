// TF.js for the face models: the WebAssembly backend, initialised once per process from the binaries inside
// the @tensorflow/tfjs-backend-wasm package, and graph models read from files. Nothing is fetched.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);

let ready: Promise<void> | undefined;

/** Selects the wasm backend (once; later calls share the first). */
export function initTfjs(): Promise<void> {
  ready ??= (async () => {
    const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    setWasmPaths(wasmDir + path.sep);
    tf.enableProdMode();
    if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend failed to initialise');
  })();
  return ready;
}

/**
 * The folder of the models shipped in @vladmandic/human. The package's export map only exposes its bundles, so the
 * folder is found beside the bundle that `require.resolve` names (resolving does not load it).
 */
export function humanModelsDir(): string {
  return path.resolve(path.dirname(require.resolve('@vladmandic/human')), '../models');
}

/** Loads a TF.js graph model (`model.json` and its weight files, as written by tfjs-converter) from disk. */
export async function loadGraphModel(jsonPath: string): Promise<tf.GraphModel<tf.io.IOHandlerSync>> {
  await initTfjs();
  const json = JSON.parse(await readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
  const dir = path.dirname(jsonPath);
  const files = (json.weightsManifest ?? []).flatMap((group) => group.paths.map((p) => path.join(dir, p)));
  const weights = Buffer.concat(await Promise.all(files.map((f) => readFile(f))));
  return tf.loadGraphModelSync([json, weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength)]);
}
