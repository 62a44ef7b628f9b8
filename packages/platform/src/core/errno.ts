/**
 * The errno codes the model returns, with their Linux numbers (`include/uapi/asm-generic/errno-base.h`
 * and `errno.h`). Only codes some layer actually returns are listed.
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EDEADLK: 35,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
  ECANCELED: 125,
} as const;

/** A symbolic errno name, e.g. `'ENOMEM'`. */
export type Errno = keyof typeof ERRNO;
