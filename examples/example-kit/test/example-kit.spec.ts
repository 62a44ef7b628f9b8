import { Platform, unwrap } from '@sharedbuf/platform';
import { describe, expect, it } from 'vitest';
import { cpuWriteClean, deviceReadText, expectRefusal, size, table } from '../src/index.js';

describe('example kit', () => {
  it('formats sizes and aligned tables', () => {
    expect(size(2 * 1024 * 1024)).toBe('2 MiB');
    expect(table(['a', 'bb'], [['xyz', '1']])).toEqual(['  a    bb', '  ---  --', '  xyz  1']);
  });

  it('reads what a device sees as text, and a fault as its errno', () => {
    const p = new Platform();
    const dev = unwrap(p.devices.add({ name: 'd', dmaMask: 32 }));
    const pa = unwrap(p.pages.allocPages(0, { maxAddress: 0xffff_ffff })) * 4096;
    cpuWriteClean(p, pa, 'hello');
    expect(deviceReadText(dev, pa, 16)).toBe('hello');
    expect(deviceReadText(dev, 0xc000_0000, 4)).toBe('fault: EFAULT');
    expect(expectRefusal(p.devices.add({ name: 'd' }), 'duplicate').code).toBe('EEXIST');
  });
});
