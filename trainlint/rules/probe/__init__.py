"""Rules about the probe itself (it could not run the user's setup)."""

from trainlint.rules.probe.probe_crashed import probe_crashed

RULES = [probe_crashed]
