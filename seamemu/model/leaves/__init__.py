# SPDX-License-Identifier: MIT
"""One module per leaf group; importing this package registers every handler."""

from seamemu.model.leaves import key_config, phymem, seamldr, shutdown, sys_config, sys_info, sys_init, sys_rd

__all__ = ["key_config", "phymem", "seamldr", "shutdown", "sys_config", "sys_info", "sys_init", "sys_rd"]
