import type { AttacherConstraints } from './attacher-constraints.js';
import { type CombinedConstraints, ConstraintAccumulator } from './combined-constraints.js';

/**
 * The live combination for one dma-buf as attachments come and go. Attaching folds one attacher in
 * (O(1)); detaching recomputes from the remaining attachers (O(n)) — the RFC's
 * `recalc_constraints`, needed because a minimum cannot be "un-applied". The combined view is a
 * snapshot taken on demand and cached until the next change, so n attaches then one read cost O(n).
 * Attachments are identified by their constraints object, as the kernel identifies them by
 * `struct dma_buf_attachment`: the same device may attach twice with two objects.
 */
export class ConstraintSet {
  private acc = new ConstraintAccumulator();
  private readonly members = new Set<AttacherConstraints>();
  private cached: CombinedConstraints | undefined;

  /** Number of attachments. */
  get size(): number {
    return this.members.size;
  }

  /** True when `c` is one of the attachments. */
  has(c: AttacherConstraints): boolean {
    return this.members.has(c);
  }

  /** Folds in one attachment. Throws when the same object is added twice or is malformed (set-up bugs). */
  add(c: AttacherConstraints): void {
    if (this.members.has(c))
      throw new Error(`ConstraintSet: ${c.attacher}'s constraints are already attached`);
    this.acc.add(c);
    this.members.add(c);
    this.cached = undefined;
  }

  /** Removes one attachment and recomputes the combination; false when it was not attached. */
  remove(c: AttacherConstraints): boolean {
    if (!this.members.delete(c)) return false;
    const rest = this.acc.attachers.filter((a) => a !== c);
    this.acc = new ConstraintAccumulator();
    for (const a of rest) this.acc.add(a);
    this.cached = undefined;
    return true;
  }

  /** The combination of every current attachment (a snapshot; later changes do not alter it). */
  get combined(): CombinedConstraints {
    this.cached ??= this.acc.snapshot();
    return this.cached;
  }
}
