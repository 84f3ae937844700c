# SPDX-License-Identifier: MIT
"""`seamemu model-diff`: the Python model and Intel's module on the same SEAMCALL sequences."""
