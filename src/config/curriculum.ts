// A curriculum's stages as configs: stage 1 is the config without its curriculum merged with stage 1's keys, stage k
// is stage k−1's config merged with stage k's keys (the merge rule of files and --set), each validated whole.
import { UserError } from '../errors.ts';
import { configHash } from './hash.ts';
import { merge, type Mapping, type Tree } from './merge.ts';
import { SECTIONS, type Config } from './schema.ts';

export interface Stage {
  /** 1-based. */
  index: number;
  name: string;
  /** The stage's own run directory inside the curriculum's: `stage-<index>`. */
  dir: string;
  config: Config;
  hash: string;
}

/** The config without its curriculum (a stage's config, or a plain run's). */
export function withoutCurriculum(c: Config): Config {
  const { curriculum: _, ...train } = c.train;
  return { ...c, train };
}

/**
 * The stages of `config`'s curriculum, each config validated by `validate` (the loader's: schema and cross-field
 * checks); [] without a curriculum. An error names the stage and the key.
 */
export function curriculumStages(config: Config, validate: (tree: unknown) => Config): Stage[] {
  const cur = config.train.curriculum;
  if (!cur) return [];
  const names = new Set<string>();
  let tree = withoutCurriculum(config) as unknown as Tree;
  return cur.stages.map((s, i) => {
    const where = `config.train.curriculum.stages[${i}] (${s.name})`;
    if (names.has(s.name)) throw new UserError(where, `the name "${s.name}" is used by an earlier stage`, 'give each stage its own name');
    names.add(s.name);
    if (s.train && 'curriculum' in s.train) throw new UserError(`${where}.train.curriculum`, 'a stage cannot hold a curriculum of its own');
    const over: Mapping = {};
    for (const section of SECTIONS) if (s[section]) over[section] = s[section] as Tree;
    tree = merge(tree, over);
    let stage: Config;
    try {
      stage = validate(tree);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      // `config.data.frames: expected …` → `config.train.curriculum.stages[1] (videos): data.frames: expected …`
      throw new UserError(where, `${e.where.replace(/^config\./, '')}: ${e.problem}`, e.hint);
    }
    return { index: i + 1, name: s.name, dir: `stage-${i + 1}`, config: stage, hash: configHash(stage) };
  });
}
