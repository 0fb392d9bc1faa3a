"""Learning-rate rules: the LR or its schedule is wrong for this setup."""

from trainlint.rules.lr.lr_too_high import lr_too_high
from trainlint.rules.lr.lr_too_low import lr_too_low
from trainlint.rules.lr.scheduler_collapse import scheduler_collapse
from trainlint.rules.lr.weight_decay_too_high import weight_decay_too_high

RULES = [lr_too_high, lr_too_low, scheduler_collapse, weight_decay_too_high]
