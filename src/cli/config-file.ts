/**
 * `--config FILE`: a command's options from a YAML or JSON file. One precedence rule for every command: an option
 * typed on the command line > its value in the file > its default (the zod schemas in config/schema.ts, through
 * the commander option defaults). The file's keys are the long option names in camelCase, as commander names them
 * (`maxLen`, `heldOutWeight`); a command may also read another shape (pretrain: a model directory's config.json).
 * Every value goes through the option's own parser, so a file is checked exactly as the command line is.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { optionValueKind } from './options.js';

/** One setting read from a file: `key` as written there (a dotted path when nested), `attribute` the option it sets. */
export interface ConfigEntry {
  key: string;
  attribute: string;
  value: unknown;
}

/** Turns a file's top-level mapping into settings; `fail` names the key at fault. */
export type ConfigShape = (file: Record<string, unknown>, fail: (key: string, problem: string) => never) => ConfigEntry[];

const flatShape: ConfigShape = (file) => Object.entries(file).map(([key, value]) => ({ key, attribute: key, value }));

/** Reads a config file into a plain mapping; any problem is one ConfigError line naming the file. */
export function readConfigFile(path: string): Record<string, unknown> {
  const ext = extname(path).toLowerCase();
  if (!['.json', '.yaml', '.yml'].includes(ext)) throw new ConfigError(`${path}: a config file must end in .yaml, .yml or .json`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const first = (err as Error).message.split('\n')[0]!.trim();
    throw new ConfigError(`${path}: not valid ${ext === '.json' ? 'JSON' : 'YAML'} (${first.replace(/:$/, '')})`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`${path}: must hold a mapping of option names to values, not ${Array.isArray(parsed) ? 'a list' : typeof parsed}`);
  }
  return parsed as Record<string, unknown>;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The command-line text an option's parser reads for a value from a file, or the reason the value cannot be one. */
function asArgument(option: Option, value: unknown): string | { problem: string } {
  const kind = optionValueKind(option.parseArg) ?? 'string';
  const listOf = (element: 'number' | 'string'): string | { problem: string } => {
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === element)) return value.join(',');
    return { problem: `must be a list of ${element}s (or a comma-separated string), got ${describe(value)}` };
  };
  switch (kind) {
    case 'number':
      return typeof value === 'number' ? String(value) : { problem: `must be a number, got ${describe(value)}` };
    case 'number-list':
      return listOf('number');
    case 'string-list':
      return listOf('string');
    case 'string':
      return typeof value === 'string' ? value : { problem: `must be a string, got ${describe(value)}` };
  }
}

/** Suggests the key the user probably meant: the same name up to case, dashes and underscores. */
function suggestion(key: string, attributes: readonly string[]): string {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const match = attributes.find((a) => norm(a) === norm(key));
  return match ? ` (did you mean "${match}"?)` : '';
}

/** Applies a config file to a parsed command: sets every option not typed on the command line. */
export function applyConfigFile(command: Command, path: string, shape: ConfigShape = flatShape): void {
  const fail = (key: string, problem: string): never => {
    throw new ConfigError(`${path}: ${key}: ${problem}`);
  };
  const entries = shape(readConfigFile(path), fail);
  // Negatable flags (--item-bag / --no-item-bag) share one attribute; either option describes it.
  const options = new Map<string, Option>();
  for (const option of command.options) {
    const attribute = option.attributeName();
    if (attribute !== 'config' && !options.has(attribute)) options.set(attribute, option);
  }
  const seen = new Map<string, string>();
  const values: [string, unknown][] = [];
  for (const { key, attribute, value } of entries) {
    const option = options.get(attribute);
    if (!option) {
      fail(key, `unknown key${suggestion(key, [...options.keys()])}; the keys are ${command.name()}'s long options in camelCase (see graftrec ${command.name()} --help)`);
    }
    const earlier = seen.get(attribute);
    if (earlier !== undefined) fail(key, `sets ${attribute}, which ${earlier} already sets`);
    seen.set(attribute, key);
    if (!option!.required && !option!.optional) {
      if (typeof value !== 'boolean') fail(key, `must be true or false, got ${describe(value)}`);
      values.push([attribute, value]);
      continue;
    }
    const argument = asArgument(option!, value);
    if (typeof argument !== 'string') fail(key, argument.problem);
    let parsed: unknown = argument;
    if (option!.parseArg) {
      try {
        parsed = option!.parseArg(argument as string, undefined);
      } catch (err) {
        if (err instanceof InvalidArgumentError) fail(key, err.message);
        throw err;
      }
    }
    values.push([attribute, parsed]);
  }
  // Only after the whole file checked out: a bad file changes nothing.
  for (const [attribute, value] of values) {
    const source = command.getOptionValueSource(attribute);
    if (source === 'cli' || source === 'env') continue;
    command.setOptionValueWithSource(attribute, value, 'config');
  }
}

/**
 * Adds `--config FILE` to a command whose options are all declared. Options the command requires may come from the
 * file, so they are checked after it is read (with commander's message).
 */
export function withConfigFile(command: Command, shape?: ConfigShape): Command {
  const required = command.options.filter((o) => o.mandatory);
  for (const option of required) option.mandatory = false;
  command.option('--config <file>', 'read options from a YAML or JSON file (keys: the long options in camelCase); options typed here win over the file');
  command.hook('preAction', (cmd) => {
    const path = cmd.getOptionValue('config') as string | undefined;
    if (path !== undefined) applyConfigFile(cmd, path, shape);
    for (const option of required) {
      if (cmd.getOptionValue(option.attributeName()) === undefined) {
        cmd.error(`error: required option '${option.flags}' not specified${path !== undefined ? ` (on the command line or in ${path})` : ''}`);
      }
    }
  });
  return command;
}
