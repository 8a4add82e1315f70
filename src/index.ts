// Public library API of face-llava: the analysis pipeline, the face expert, model directories, and the task
// vocabularies the structured results use. For research work, subpaths expose the layers below:
// `face-llava/engine` (graphs, autodiff, sessions, safetensors), `face-llava/model`, `face-llava/text`,
// `face-llava/face`, `face-llava/data` (packs, labels, FaceInstruct), `face-llava/train`, `face-llava/eval`.
export { VERSION } from './version.js';

export {
  ANALYSIS_TASKS,
  analysisTasks,
  createFaceLlava,
  FaceLlavaPipeline,
  ModelNotFoundError,
  type AllTasksAnalysis,
  type Analysis,
  type AnalysisOptions,
  type AnalysisTask,
  type Answer,
  type AttributeLabel,
  type DetectedFace,
  type Labels,
  type MediaAnalysis,
  type MediaSummary,
  type ModelTimings,
  type PipelineOptions,
  readLabel,
  type Timings,
} from './pipeline/index.js';

export {
  createFaceExpert,
  FaceExpertError,
  FACE_REGIONS,
  LANDMARK_COUNT,
  renderOverlay,
  sampleFrameIndices,
  type AnalyzeOptions as FaceAnalyzeOptions,
  type Box,
  type Face,
  type FaceErrorCode,
  type FaceExpert,
  type FaceExpertOptions,
  type FaceRegion,
  type ImageAnalysis,
  type MediaInput,
  type Point,
  type RgbImage,
  type VideoAnalysis,
  type VideoFrame,
  type VideoOptions,
} from './face/index.js';

export {
  DEFAULT_MODEL_DIR,
  loadPretrained,
  savePretrained,
  type EncoderResolver,
  type LoadPretrainedOptions,
  type ModelDirConfig,
  type ModelDirConfigInput,
  type Pretrained,
  type SavePretrainedOptions,
} from './model/pretrained.js';

export { TASKS, type Task } from './data/build/types.js';
export { EXPRESSIONS, type Expression } from './data/labels/expression.js';
export { CELEBA_ATTRIBUTES, type CelebaAttribute } from './data/labels/attributes.js';
export { AUTHENTICITY, type Authenticity } from './data/labels/deepfake.js';
export { FACE_LLAVA_SAMPLING, type SamplingOptionsInput } from './text/sampling.js';
