import type { KResult } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';

/** A refused kernel call as plain data: the errno name, the sentence, the structured detail. */
export interface Refusal {
  readonly code: string;
  readonly message: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/**
 * The refusal carried by a result that was expected to fail.
 * @throws when the call succeeded: the example's story depends on it failing.
 */
export const expectRefusal = (result: KResult<unknown>, what: string): Refusal => {
  if (E.isRight(result)) throw new Error(`${what} was expected to be refused, but it succeeded`);
  const { code, message, detail } = result.left;
  return { code, message, detail };
};
