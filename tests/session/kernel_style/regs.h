/* SPDX-License-Identifier: MIT */
/* Offsets of a caller's argument block, the way kernel headers spell them. */
#ifndef _KS_REGS_H
#define _KS_REGS_H

#define ARG(n)		((n) * 8)
#define ARG_RCX		ARG(0)
#define ARG_RDX		ARG(1)
#define ARG_R8		ARG(2)
#define ARG_R9		ARG(3)
#define ARG_R10		ARG(4)
#define ARG_R11		ARG(5)
#define NR_ARGS		6

#endif
