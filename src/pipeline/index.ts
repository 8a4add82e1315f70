// Analysis of face images and videos with a Face-LLaVA model directory: the library's pipeline API.
export { FaceLlavaPipeline, createFaceLlava, analysisTasks, ANALYSIS_TASKS } from './pipeline.js';
export type { AllTasksAnalysis, Analysis, AnalysisOptions, AnalysisTask, Answer, MediaAnalysis, PipelineOptions, Timings } from './pipeline.js';
export type { ModelTimings } from './generation.js';
export { readLabel, type AttributeLabel, type Labels } from './labels.js';
export type { DetectedFace, MediaSummary } from './media.js';
export { ModelNotFoundError, resolveModelDir } from './model-dir.js';
