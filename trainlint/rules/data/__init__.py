"""data rules (TL1xx), plus the loss-output rules TL201 and TL206 that read the same first-batch facts."""

from trainlint.rules.data.class_imbalance import class_imbalance
from trainlint.rules.data.input_independent_output import input_independent_output
from trainlint.rules.data.label_out_of_range import label_out_of_range
from trainlint.rules.data.non_finite_inputs import non_finite_inputs
from trainlint.rules.data.shape_mismatch import shape_mismatch
from trainlint.rules.data.unnormalized_inputs import unnormalized_inputs
from trainlint.rules.loss.initial_loss_off import initial_loss_off
from trainlint.rules.loss.loss_output_mismatch import loss_output_mismatch

RULES: list = [label_out_of_range, class_imbalance, unnormalized_inputs, non_finite_inputs, shape_mismatch,
               input_independent_output, initial_loss_off, loss_output_mismatch]
