"""Pure numeric helpers shared by rules (no torch, no matplotlib)."""
