"""The instrumented probe: a short training run that records what the rules need."""
