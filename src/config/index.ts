// The typed config: schema, loading (defaults ← file ← --set), validation, hashing, saving.
export * from './schema.ts';
export { canonicalJson, configHash } from './hash.ts';
export { configYaml, CONFIG_DIR, defaultTree, loadConfig, saveConfig, validateConfig, type LoadOptions, type Loaded } from './load.ts';
export { writeFileAtomic } from '../atomic.ts';
export { checkNumClasses, type Finding } from './checks.ts';
export { keyPath, userError, type Problem } from './errors.ts';
export { parseSet, merge, type SetOverride } from './merge.ts';
export { curriculumStages, withoutCurriculum, type Stage } from './curriculum.ts';
