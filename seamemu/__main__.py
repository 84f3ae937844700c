# SPDX-License-Identifier: MIT
"""`python -m seamemu`: the same entry point as the `seamemu` console script."""

from seamemu.cli import main

raise SystemExit(main())
