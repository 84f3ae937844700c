# SPDX-License-Identifier: MIT
"""The model checked against Intel's module (model_diff*.py); the kernel side is seamemu.kernel."""
