"""Starter specs written by `trainlint init TEMPLATE` (one commented YAML file per template)."""
