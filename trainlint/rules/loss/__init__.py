"""loss rules."""

RULES: list = []
