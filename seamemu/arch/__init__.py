# SPDX-License-Identifier: MIT
"""Facts of the TDX and x86 ABIs as declarative tables; no behaviour lives here."""
