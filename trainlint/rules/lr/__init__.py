"""lr rules."""

RULES: list = []
