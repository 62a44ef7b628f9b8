import { type Device, hex, type KernelError, kernelError, type PhysicalMemory } from '@sharedbuf/platform';
import { DmaDirection, dmaDirectionName } from '../debug/direction.js';
import { isAlignMask } from './align.js';

/**
 * Why `dir` cannot be used for a transfer: the kernel `BUG_ON`s `DMA_NONE` and unknown values in
 * `dma_map_page_attrs` and the sync calls (`kernel/dma/mapping.c`, `swiotlb_sync_single_*`); the
 * model refuses with EINVAL.
 */
export const directionProblem = (op: string, dir: DmaDirection): KernelError | undefined =>
  dir === DmaDirection.BIDIRECTIONAL || dir === DmaDirection.TO_DEVICE || dir === DmaDirection.FROM_DEVICE
    ? undefined
    : kernelError(
        'EINVAL',
        `swiotlb ${op}: direction ${dmaDirectionName(dir)} moves no data: use TO_DEVICE, FROM_DEVICE or BIDIRECTIONAL`,
        { op, dir },
      );

/**
 * Why a bounce mapping cannot even be searched for, or `undefined`: EINVAL for a bad direction, a
 * size that is not a positive integer or exceeds `swiotlb_max_mapping_size()` (the kernel's search
 * cannot cross a segment and would report the pool full), or an alignment mask not of the form
 * 2^k − 1; EFAULT when the original buffer is not RAM (the kernel's `memcpy` would fault).
 * `maxMappingSize` is `swiotlb_max_mapping_size()` for the device.
 */
export const mapProblem = (
  memory: PhysicalMemory,
  device: Device,
  orig: number,
  size: number,
  dir: DmaDirection,
  allocAlignMask: number,
  maxMappingSize: number,
): KernelError | undefined => {
  const name = device.name;
  const bad = directionProblem('map', dir);
  if (bad !== undefined) return bad;
  if (!Number.isSafeInteger(size) || size < 1) {
    return kernelError(
      'EINVAL',
      `${name}: cannot bounce ${size} bytes: the size must be a positive integer`,
      {
        device: name,
        size: size,
      },
    );
  }
  if (size > maxMappingSize) {
    return kernelError(
      'EINVAL',
      `${name}: a ${size}-byte mapping exceeds swiotlb's largest bounce buffer for this device ` +
        `(${maxMappingSize} bytes, swiotlb_max_mapping_size): split the transfer`,
      { device: name, size: size, maxMappingSize: maxMappingSize },
    );
  }
  if (!isAlignMask(allocAlignMask)) {
    return kernelError(
      'EINVAL',
      `${name}: alloc_align_mask ${allocAlignMask} is not 0 or 2^k - 1 below 2^32`,
      {
        device: name,
        allocAlignMask: allocAlignMask,
      },
    );
  }
  if (!Number.isSafeInteger(orig) || orig < 0 || !memory.isRam(orig, size)) {
    return kernelError('EFAULT', `${name}: the buffer ${hex(orig)}+${hex(size)} to bounce is not RAM`, {
      device: name,
      orig: orig,
      size: size,
    });
  }
  return undefined;
};
