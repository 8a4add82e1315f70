// Argument parsers for commander options, shared by the commands: each turns the option's text into a number or
// refuses it with an InvalidArgumentError, which commander reports as `error: option '…' argument '…' is invalid`.
import { InvalidArgumentError } from 'commander';

/** A whole number ≥ `min`. */
export function integer(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number ≥ ${min}`);
    return n;
  };
}

/** A whole number ≥ 1, refused as "expected a positive integer" (the wording `face-llava landmarks` reports). */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** A number from 0 to 1. */
export function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

/** A number from 0 up to, not including, 1 (a share that must leave something: dropout's). */
export function shareBelowOne(value: string): number {
  const n = fraction(value);
  if (n === 1) throw new InvalidArgumentError('expected a number from 0 up to (not including) 1');
  return n;
}

/** A finite number > 0. */
export function positive(value: string): number {
  const x = Number(value);
  if (!(x > 0) || !Number.isFinite(x)) throw new InvalidArgumentError('expected a number > 0');
  return x;
}

/** A finite number ≥ 0 (not the empty string, which Number reads as 0). */
export function nonNegative(value: string): number {
  const x = Number(value);
  if (value.trim() === '' || !(x >= 0) || !Number.isFinite(x)) throw new InvalidArgumentError('expected a number ≥ 0');
  return x;
}
