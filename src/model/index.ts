// The Face-LLaVA model family: configuration, the visual path (encoder, projector, FRLP, cross-attention),
// splicing into the LLaMA decoder, whole-model graphs and checkpoint binding.
export * from './config.js';
export * from './checkpoint.js';
export * from './face-llava.js';
export * from './frgca.js';
export * from './frlp.js';
export * from './projector.js';
export * from './regions.js';
export * from './vision/encoder.js';
export { clipVisionHiddenStates, hiddenStateIndex, type ClipVisionOptions } from './vision/vit.js';
export { multiHeadAttention } from './vision/attention.js';
export * from './llama.js';
export * from './kv-cache.js';
export * from './label-heads.js';
