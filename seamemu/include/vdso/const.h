/* SPDX-License-Identifier: MIT */
/* seamemu's stand-in for the kernel's include/vdso/const.h: see linux/const.h. */
#include <linux/const.h>
