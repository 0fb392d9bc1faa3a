"""Loss-dynamics rules: how the training loss behaves over the probe."""

from trainlint.rules.loss.loss_diverging import loss_diverging
from trainlint.rules.loss.loss_not_decreasing import loss_not_decreasing
from trainlint.rules.loss.loss_oscillating import loss_oscillating
from trainlint.rules.loss.non_finite_loss import non_finite_loss

RULES = [non_finite_loss, loss_not_decreasing, loss_diverging, loss_oscillating]
