"""data rules."""

RULES: list = []
