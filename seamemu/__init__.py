# SPDX-License-Identifier: MIT
"""seamemu: Intel TDX's SEAMCALL ABI emulated on Unicorn."""

__version__ = "0.1.0"
__all__ = ["__version__"]
