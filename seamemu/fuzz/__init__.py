"""Fuzz the register inputs of SEAMCALL calling-convention assembly and find ABI bugs."""
