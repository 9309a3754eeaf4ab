// loadConfig: YAML defaults (config/{arch,data,train,eval}.yaml) ← a user's file ← `--set` overrides, validated by the
// schema and the cross-field checks; hashed over its canonical JSON. saveConfig writes it back as YAML, atomically.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../atomic.ts';
import { curriculumStages } from './curriculum.ts';
import { configHash } from './hash.ts';
import { checkConfig } from './checks.ts';
import { problemOf, userError, type Problem } from './errors.ts';
import { isMapping, merge, parseSet, setsPath, type Mapping, type SetOverride, type Tree } from './merge.ts';
import { ConfigSchema, SECTIONS, type Config } from './schema.ts';

/** The shipped defaults and example configs. */
export const CONFIG_DIR = fileURLToPath(new URL('../../config/', import.meta.url));

export interface LoadOptions {
  /** A custom YAML file (a path, or the name of a file in config/, with or without `.yaml`). */
  file?: string;
  /** `key.path=value` overrides, applied in order after the file. */
  set?: readonly string[];
}

export interface Loaded {
  config: Config;
  /** sha256 of the canonical JSON, first 16 hex digits. */
  hash: string;
  /** The custom file actually read, if any. */
  file?: string;
}

function readYaml(path: string): Mapping {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(path, `cannot read the config file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new UserError(path, `invalid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isMapping(doc)) throw new UserError(path, `expected a mapping with sections ${SECTIONS.join(', ')}, got ${Array.isArray(doc) ? 'a list' : typeof doc}`);
  return doc as Mapping;
}

function findFile(file: string): string {
  if (existsSync(file)) return file;
  for (const name of [file, `${file}.yaml`]) {
    const p = join(CONFIG_DIR, name);
    if (basename(name) === name && existsSync(p)) return p;
  }
  throw new UserError(file, 'no such config file', `also looked for ${file}.yaml in ${CONFIG_DIR}`);
}

/** The merged defaults, unvalidated. */
export function defaultTree(): Mapping {
  const out: Mapping = {};
  for (const section of SECTIONS) {
    const doc = readYaml(join(CONFIG_DIR, `${section}.yaml`));
    const keys = Object.keys(doc);
    if (keys.length !== 1 || keys[0] !== section) throw new Error(`${section}.yaml: expected exactly the top-level section "${section}", got [${keys.join(', ')}]`);
    out[section] = doc[section]!;
  }
  return out;
}

/** Validates a merged tree: schema first (types, ranges, unknown keys), then cross-field checks. */
export function validateConfig(tree: unknown, sourceOf: (p: Problem) => string | undefined = () => undefined): Config {
  const r = ConfigSchema.safeParse(tree);
  if (!r.success) {
    const p = problemOf(r.error.issues[0]!, ConfigSchema, tree);
    throw userError(p, sourceOf(p));
  }
  const p = checkConfig(r.data);
  if (p) throw userError(p, sourceOf(p));
  // Every stage of a curriculum is a whole config: a bad one is refused before the first stage starts.
  curriculumStages(r.data, (t) => validateConfig(t));
  return r.data;
}

export function loadConfig(o: LoadOptions = {}): Loaded {
  const file = o.file === undefined ? undefined : findFile(o.file);
  const custom = file === undefined ? {} : readYaml(file);
  const sets: SetOverride[] = (o.set ?? []).map(parseSet);
  let tree: Tree = merge(defaultTree(), custom);
  for (const s of sets) tree = merge(tree, s.tree);

  const sourceOf = (p: Problem): string | undefined => {
    const s = [...sets].reverse().find((x) => setsPath(x.tree, p.path));
    if (s) return `from --set ${s.raw}`;
    if (file !== undefined && setsPath(custom, p.path)) return `from ${file}`;
    return undefined;
  };
  const config = validateConfig(tree, sourceOf);
  return { config, hash: configHash(config), ...(file === undefined ? {} : { file }) };
}

/** The config as YAML (sections in order arch, data, train, eval), with its hash in a header comment. */
export function configYaml(config: Config): string {
  const ordered = Object.fromEntries(SECTIONS.map((s) => [s, config[s]]));
  const doc = new YAML.Document(ordered);
  // Lists of scalars on one line: `groups: [space, time]`.
  YAML.visit(doc, { Seq: (_, seq) => void (seq.flow = seq.items.every((i) => YAML.isScalar(i))) });
  const body = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  return `# vhssl config ${configHash(config)}\n${body}`;
}

export function saveConfig(config: Config, path: string): void {
  writeFileAtomic(path, configYaml(config));
}
