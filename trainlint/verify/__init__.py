"""Prove the advice: re-run a probe with its findings' fixes applied and write the repaired spec.

`plan` picks the fixes to try, `run` re-runs them through the compare runner (same seed, initial
weights and data order), `judge` decides whether each resolved its finding, `yaml_edit` and
`fixed_spec` write the spec with the working fixes applied, and `model` is the report section.
"""
