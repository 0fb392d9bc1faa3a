"""Rules about gradients and activations (TL4xx): exploding, vanishing, dead, saturated, unused."""

from trainlint.rules.gradients.dead_relu import dead_relu
from trainlint.rules.gradients.exploding_gradients import exploding_gradients
from trainlint.rules.gradients.frozen_or_unused_parameters import frozen_or_unused_parameters
from trainlint.rules.gradients.saturated_activations import saturated_activations
from trainlint.rules.gradients.vanishing_gradients import vanishing_gradients

RULES = [exploding_gradients, vanishing_gradients, dead_relu, saturated_activations,
         frozen_or_unused_parameters]
