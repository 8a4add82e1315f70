// Evaluation API (also `face-llava eval`): label extraction from answers, the paper's metrics, evaluation runs.
export * from './extract.js';
export * from './metrics.js';
export { runEval, expertFaceReader, modelAnswerer, type EvalOptions, type EvalResult, type PredictionRecord } from './run.js';
export { BASELINE_NAMES, loadBaseline, type LoadedBaseline } from './baselines/index.js';
