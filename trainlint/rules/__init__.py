"""The rule engine and the rule catalog. Rules are pure functions of a RunRecord (no torch)."""
