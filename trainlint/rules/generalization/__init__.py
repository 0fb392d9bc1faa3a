"""Rules about generalization (TL5xx): overfitting and underfitting."""

from trainlint.rules.generalization.overfitting import overfitting
from trainlint.rules.generalization.underfitting import underfitting

RULES = [overfitting, underfitting]
