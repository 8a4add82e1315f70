// Data API (also `face-llava data`): data packs, label vocabularies and the FaceInstruct builder.
export * from './labels/index.js';
export { openPack, openLabelCsv, openClassFolders, PACK_NAMES, type PackName, type PackRows, type Split } from './packs.js';
export {
  buildFaceInstruct,
  countSourceRows,
  TASKS,
  isTask,
  type BuildOptions,
  type BuildSummary,
  type FaceInstructRecord,
  type Task,
} from './faceinstruct.js';
