// The label vocabularies, one module per task.
export * from './action-units.js';
export * from './age.js';
export * from './attributes.js';
export * from './deepfake.js';
export * from './expression.js';
export { normalizePhrase } from './lexicon.js';
