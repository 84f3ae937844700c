# SPDX-License-Identifier: MIT
"""What is left of the former host package: the bring-up benchmark (bench.py)."""
