/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's include/linux/bits.h: BIT() and GENMASK() in a form
 * that C and GNU as both evaluate (GENMASK(h, l) sets bits h..l, h >= l, 64-bit longs).
 */
#ifndef __LINUX_BITS_H
#define __LINUX_BITS_H

#include <linux/const.h>

#define BITS_PER_LONG		64
#define BITS_PER_LONG_LONG	64

#define BIT(nr)			_BITUL(nr)
#define BIT_ULL(nr)		_BITULL(nr)

#define GENMASK(h, l) \
	(((~_UL(0)) - (_UL(1) << (l)) + 1) & (~_UL(0) >> (BITS_PER_LONG - 1 - (h))))
#define GENMASK_ULL(h, l) \
	(((~_ULL(0)) - (_ULL(1) << (l)) + 1) & (~_ULL(0) >> (BITS_PER_LONG_LONG - 1 - (h))))

#endif /* __LINUX_BITS_H */
