# SPDX-License-Identifier: MIT
"""The assembler front end: kernel-style AT&T `.S` files to an `Image` (keystone or GNU as)."""

from .pipeline import BACKENDS, DEFAULT_INCLUDE_DIR, assemble, assemble_text, clear_cache

__all__ = ["BACKENDS", "DEFAULT_INCLUDE_DIR", "assemble", "assemble_text", "clear_cache"]
