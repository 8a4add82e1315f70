// Training API (also `face-llava train`): the paper's stages on FaceInstruct JSONL into a run folder.
export { train, type TrainEvent, type TrainOptions, type TrainResult } from './trainer.js';
export { STAGES, parseStages, type StageName } from './stages.js';
export { answerVocabulary, type AnswerVocabulary } from './output-vocab.js';
export { fitLabelHeads, storeLabelHeads, type FitLabelHeadsOptions, type FittedLabelHeads, type HeadFitReport } from './label-heads.js';
