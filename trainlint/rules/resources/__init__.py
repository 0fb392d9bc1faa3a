"""Rules about resources (TL6xx): data loading, memory, device use."""

from trainlint.rules.resources.data_loader_bottleneck import data_loader_bottleneck
from trainlint.rules.resources.device_underused import device_underused
from trainlint.rules.resources.memory_growth import memory_growth

RULES = [data_loader_bottleneck, memory_growth, device_underused]
