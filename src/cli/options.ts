/** Option parsers shared by the commands: each rejects bad input with a message commander prints. */
import { InvalidArgumentError } from 'commander';

/**
 * What a config file may give for an option parsed by one of these parsers: a number, a list (a YAML/JSON array or
 * the comma-separated string typed on the command line) or a string. Options without a parser take a string.
 */
export type OptionValueKind = 'number' | 'number-list' | 'string' | 'string-list';
const valueKinds = new WeakMap<object, OptionValueKind>();

function kinded<T extends (value: string) => unknown>(kind: OptionValueKind, parser: T): T {
  valueKinds.set(parser, kind);
  return parser;
}

/** The value kind of an option parser made here (undefined for any other parser). */
export function optionValueKind(parser: unknown): OptionValueKind | undefined {
  return typeof parser === 'function' ? valueKinds.get(parser) : undefined;
}

function range(min: number, max: number): string {
  return max === Infinity || max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
}

export function integerOption(name: string, min = 1, max = Number.MAX_SAFE_INTEGER) {
  return kinded('number', (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer ${range(min, max)}, got "${value}"`);
    }
    return n;
  });
}

export function numberOption(name: string,
  options: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean } = {}) {
  const min = options.min ?? -Infinity;
  const max = options.max ?? Infinity;
  return kinded('number', (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    const ok = Number.isFinite(n) && (options.exclusiveMin ? n > min : n >= min) && (options.exclusiveMax ? n < max : n <= max);
    if (!ok) {
      const bound = max === Infinity
        ? (options.exclusiveMin ? `> ${min}` : range(min, max))
        : `in ${options.exclusiveMin ? '(' : '['}${min}, ${max}${options.exclusiveMax ? ')' : ']'}`;
      throw new InvalidArgumentError(`${name} must be a number ${bound}, got "${value}"`);
    }
    return n;
  });
}

export function integerListOption(name: string) {
  return kinded('number-list', (value: string): number[] => {
    const parts = value.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
    if (parts.some((n) => !Number.isSafeInteger(n) || n < 1)) {
      throw new InvalidArgumentError(`${name} must be a comma-separated list of positive integers, got "${value}"`);
    }
    return parts;
  });
}

/** A comma-separated list of distinct fractions in (0, 1] (shares of the labelled users). */
export function fractionListOption(name: string) {
  return kinded('number-list', (value: string): number[] => {
    const parts = value.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
    if (parts.some((x) => !(x > 0 && x <= 1)) || new Set(parts).size !== parts.length) {
      throw new InvalidArgumentError(`${name} must be a comma-separated list of distinct fractions in (0, 1], got "${value}"`);
    }
    return parts;
  });
}

/** A comma-separated list of distinct, non-empty names (column names). */
export function nameListOption(name: string) {
  return kinded('string-list', (value: string): string[] => {
    const names = value.split(',').map((s) => s.trim());
    if (names.some((s) => s === '')) throw new InvalidArgumentError(`${name} must be a comma-separated list of non-empty names`);
    if (new Set(names).size !== names.length) throw new InvalidArgumentError(`${name} must not repeat a name`);
    return names;
  });
}

export function choiceOption<T extends string>(name: string, choices: readonly T[]) {
  return kinded('string', (value: string): T => {
    if (!choices.includes(value as T)) throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}, got "${value}"`);
    return value as T;
  });
}

export function choiceListOption<T extends string>(name: string, choices: readonly T[]) {
  return kinded('string-list', (value: string): T[] => {
    const items = value.split(',').map((s) => s.trim());
    const bad = items.filter((s) => !choices.includes(s as T));
    if (bad.length > 0) throw new InvalidArgumentError(`${name}: unknown ${bad.join(', ')} (choose from ${choices.join(', ')})`);
    return items as T[];
  });
}
