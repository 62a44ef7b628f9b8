import * as E from 'fp-ts/lib/Either.js';
import { ERRNO, type Errno } from './errno.js';

/**
 * An expected failure of a modelled kernel call: the errno the kernel would return, a sentence a
 * person can act on, and structured detail (plain JSON values) for programs and traces.
 */
export interface KernelError {
  readonly code: Errno;
  readonly errno: number;
  readonly message: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** Builds a {@link KernelError}; `errno` is filled in from the code. */
export const kernelError = (
  code: Errno,
  message: string,
  detail: Readonly<Record<string, unknown>> = {},
): KernelError => ({ code, errno: ERRNO[code], message, detail });

/** A kernel call's result: `Left` with the error, or `Right` with the value. */
export type KResult<T> = E.Either<KernelError, T>;

/** Shorthand for a failed {@link KResult}. */
export const fail = <T = never>(
  code: Errno,
  message: string,
  detail: Readonly<Record<string, unknown>> = {},
): KResult<T> => E.left(kernelError(code, message, detail));

/** Shorthand for a successful {@link KResult}. */
export const ok = <T>(value: T): KResult<T> => E.right(value);

/**
 * Unwraps a result the caller knows must succeed (model set-up, tests). A `Left` here is a bug in
 * the caller, so it throws with the kernel error's sentence.
 */
export const unwrap = <T>(result: KResult<T>): T => {
  if (E.isLeft(result)) {
    throw new Error(`${result.left.code}: ${result.left.message}`);
  }
  return result.right;
};
