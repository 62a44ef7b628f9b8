import { Mm, type MmDeps } from './mm.js';
import type { MmLayout } from './mm-layout.js';

/**
 * A user process (`struct task_struct`, reduced to what the shared-buffer stack needs): a pid, a name
 * and its address space. Created by {@link ProcessTable.spawn}.
 */
export class Process {
  /** The process's address space. */
  readonly mm: Mm;

  constructor(
    readonly pid: number,
    readonly name: string,
    deps: MmDeps,
    private readonly onExit: (process: Process) => void = () => {},
  ) {
    this.mm = new Mm(deps, pid);
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.mm.exited;
  }

  /**
   * `do_exit` → `mmput` → `exit_mmap`: MMU notifiers get `release`, every mapping is torn down and
   * the process leaves its table. Pins taken through the mm survive until unpinned. Idempotent.
   */
  exit(): void {
    if (this.mm.exited) return;
    this.mm.exitMmap();
    this.onExit(this);
  }
}

/**
 * The live processes of the machine (the pid namespace). Pids are handed out from 1 in spawn order
 * and never reused, so runs are reproducible.
 */
export class ProcessTable {
  private nextPid = 1;
  private readonly live = new Map<number, Process>();

  constructor(private readonly deps: MmDeps) {}

  /**
   * Creates a process with an empty address space; `layout` overrides the table's default layout.
   * Emits `spawn`.
   */
  spawn(name: string, layout?: Partial<MmLayout>): Process {
    const pid = this.nextPid++;
    const process = new Process(pid, name, { ...this.deps, layout: layout ?? this.deps.layout }, (p) =>
      this.live.delete(p.pid),
    );
    this.live.set(pid, process);
    if (this.deps.bus.active) this.deps.bus.emit('spawn', { pid, name });
    return process;
  }

  /** The live process with this pid (`find_task_by_vpid`), or undefined once it has exited. */
  get(pid: number): Process | undefined {
    return this.live.get(pid);
  }

  /** The live processes in pid order. */
  list(): readonly Process[] {
    return [...this.live.values()];
  }
}
