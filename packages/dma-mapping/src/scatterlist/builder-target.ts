import { type KResult, ok } from '@sharedbuf/platform';
import { SgTable } from './sg-table.js';

// One successful result per table, reused: a refilling builder then returns without allocating.
const results = new WeakMap<SgTable, KResult<SgTable>>();

/**
 * The table a builder fills: the caller's, emptied, or a new one sized for `nents` entries. Called
 * only after validation, so that a failed build leaves the caller's table untouched.
 */
export const beginFill = (table: SgTable | undefined, nents: number): SgTable => {
  const target = table ?? new SgTable(nents);
  target.reset();
  target.reserve(nents);
  return target;
};

/** `table` as a successful result, the same object every time for the same table. */
export const filled = (table: SgTable): KResult<SgTable> => {
  let result = results.get(table);
  if (result === undefined) {
    result = ok(table);
    results.set(table, result);
  }
  return result;
};
