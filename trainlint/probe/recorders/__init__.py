"""Recorders, one family per module; each fills its part of the RunRecord."""
