// The language side: tokenizer, Vicuna v1 chat template, sampling and the generation loop.
export * from './tokenizer.js';
export * from './chat.js';
export * from './sampling.js';
export * from './generate.js';
export * from './guide.js';
