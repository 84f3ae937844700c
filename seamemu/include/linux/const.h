/* SPDX-License-Identifier: MIT */
/*
 * seamemu's stand-in for the kernel's include/uapi/linux/const.h (vdso/const.h): constants
 * that read the same in C and in assembly, where an integer suffix would be a syntax error.
 */
#ifndef _LINUX_CONST_H
#define _LINUX_CONST_H

#ifdef __ASSEMBLY__
#define _AC(X, Y)	X
#define _AT(T, X)	X
#else
#define __AC(X, Y)	(X##Y)
#define _AC(X, Y)	__AC(X, Y)
#define _AT(T, X)	((T)(X))
#endif

#define _UL(x)		(_AC(x, UL))
#define _ULL(x)		(_AC(x, ULL))

#define _BITUL(x)	(_UL(1) << (x))
#define _BITULL(x)	(_ULL(1) << (x))

#endif /* _LINUX_CONST_H */
