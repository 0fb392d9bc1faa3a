"""Rules about resources (TL6xx): data loading, memory, device use, distributed ranks."""

from trainlint.rules.resources.data_loader_bottleneck import data_loader_bottleneck
from trainlint.rules.resources.device_underused import device_underused
from trainlint.rules.resources.memory_growth import memory_growth
from trainlint.rules.resources.straggler_rank import straggler_rank

RULES = [data_loader_bottleneck, memory_growth, device_underused, straggler_rank]
