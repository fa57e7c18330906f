/** Option parsers shared by the commands: each rejects bad input with a message commander prints. */
import { InvalidArgumentError } from 'commander';

export function integerOption(name: string, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
}

export function numberOption(name: string, options: { min?: number; exclusiveMin?: boolean } = {}) {
  return (value: string): number => {
    const n = Number(value);
    const min = options.min ?? -Infinity;
    const ok = Number.isFinite(n) && (options.exclusiveMin ? n > min : n >= min);
    if (!ok) throw new InvalidArgumentError(`${name} must be a number ${options.exclusiveMin ? '>' : '≥'} ${min}, got "${value}"`);
    return n;
  };
}

export function integerListOption(name: string) {
  return (value: string): number[] => {
    const parts = value.split(',').map((s) => Number(s.trim()));
    if (parts.length === 0 || parts.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new InvalidArgumentError(`${name} must be a comma-separated list of positive integers, got "${value}"`);
    }
    return parts;
  };
}

export function choiceOption<T extends string>(name: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!choices.includes(value as T)) throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}, got "${value}"`);
    return value as T;
  };
}
