import { DEFAULT_MACHINE, Platform } from '@sharedbuf/platform';
import { type BenchContext, type FigureSet, fmt, median, nowMs } from '../harness.js';

const GiB = 2 ** 30;

/** The default machine with 64 GiB of RAM described: 3 GiB below the 32-bit hole, 61 GiB above. */
const machine64g = () => ({
  banks: [
    { name: 'dram0', base: 0, size: 3 * GiB },
    { name: 'dram1', base: 4 * GiB, size: 61 * GiB },
  ],
  cma: DEFAULT_MACHINE.cma,
  carveouts: DEFAULT_MACHINE.carveouts,
});

const boot = (ctx: BenchContext): Record<string, number> => {
  const rssBefore = process.memoryUsage().rss;
  const keep: Platform[] = [];
  const times: number[] = [];
  for (let i = 0; i < (ctx.quick ? 1 : 5); i++) {
    const t0 = nowMs();
    keep.push(new Platform(machine64g()));
    times.push(nowMs() - t0);
  }
  // One machine's resident cost: the growth of the process while every booted machine is alive.
  const rssMb = (process.memoryUsage().rss - rssBefore) / keep.length / 2 ** 20;
  const ms = median(times);
  ctx.log(`boot_64g_ms: ${fmt(ms, 2)} ms   (median of ${times.length} boots of a 64 GiB machine)`);
  ctx.log(
    `boot_64g_rss_mb: ${fmt(Math.max(rssMb, 0), 2)} MB resident per booted machine; ${keep[0]!.memory.residentPages} pages of RAM touched`,
  );
  return { boot_64g_ms: ms, boot_64g_rss_mb: Math.max(rssMb, 0) };
};

/** `boot_64g_ms`, `boot_64g_rss_mb`: booting a machine with 64 GiB described costs little, as memory is sparse. */
export const bootFigures: FigureSet = { name: 'boot', run: boot };
