// Evaluation and export: what the trainer and the CLI call.
export { knnSchedule, evaluateKnn, evalSplits, splitFeatures, type KnnSummary, type FeatureOptions, type SplitFeatures } from './validate.ts';
export { knnClassify, nearestNeighbours, knnVotes, type KnnAccuracy, type KnnOptions, type LabeledFeatures, type Accuracy } from './knn.ts';
export { linearProbe, type ProbeOptions, type ProbeResult } from './probe.ts';
export { finetune, type FinetuneOptions, type FinetuneResult } from './finetune.ts';
export { extractFeatures, runFeatures, parseViews, levelOf, DEFAULT_TRAIN_VIEWS, DEFAULT_TEST_VIEWS, type Features, type Views, type Pool } from './features.ts';
export { loadRun, matchEncoder, encoderInits, checkpointPath, type Run, type Checkpoint } from './run.ts';
export { exportEncoder, exportMetadata, INPUT_LAYOUT, type ExportOptions } from './export.ts';
export { frozenEncoder } from './encoder.ts';
export { freezeGraph } from './freeze.ts';
export { writePictures } from './pictures.ts';
export { buildReport, readJsonl, type EvalRecord } from './report.ts';
