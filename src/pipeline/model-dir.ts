// Which model directory to load, and the error a user sees when there is none: until a trained model ships inside
// the package, the default directory is usually absent, so the message says how to get one.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { CONFIG_FILE_NAME, DEFAULT_MODEL_DIR } from '../model/pretrained.js';

export class ModelNotFoundError extends Error {
  override readonly name = 'ModelNotFoundError';
  readonly code = 'MODEL_NOT_FOUND';

  constructor(readonly dir: string) {
    const which = dir === DEFAULT_MODEL_DIR ? `no model at ${dir} (the default model, not shipped with this build)` : `no model at ${dir}`;
    super(
      `${which}: a model directory holds ${CONFIG_FILE_NAME} and model.safetensors.\n` +
        'Train one with `face-llava data build` and `face-llava train` (the model is written to <run>/model),\n' +
        'then pass its folder with --model <dir> (or { model: dir } to FaceLlavaPipeline.load).',
    );
  }
}

/** The absolute model directory to load (`dir`, or the shipped default); a ModelNotFoundError when it is absent. */
export function resolveModelDir(dir: string = DEFAULT_MODEL_DIR): string {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory() || !existsSync(resolve(root, CONFIG_FILE_NAME))) throw new ModelNotFoundError(root);
  return root;
}
