"""User-code twins of zoo configs: the same data and model, given to trainlint through `target:` files.

A twin is how a user would bring the very same experiment as their own code: the built-in
dataset's train/validation split (after the seed, the split, the standardising and the target
form the loss needs) saved and returned by a generated ``twin_data.py`` as a ``(train, val)``
pair of ``TensorDataset``s, and the built-in model returned by a generated ``twin_model.py``
inside the user's own ``nn.Module``. Everything else in the spec is unchanged. A probe of the
twin therefore trains on the same samples in the same order from the same initial weights, so
it must reach the same verdict; where it does not, a fact was recorded for built-ins only.

Why generated and never hand-copied: a copy drifts as datasets and models change; the
generator builds the built-in component through trainlint's own registry every time.

Why the model is built inside the user's factory (not loaded from saved weights): building it
draws from torch's global RNG exactly as the built-in does after `torch.manual_seed(seed)`, so
the weights *and* everything drawn later from that RNG (dropout masks) are the same.

Why the data declares `task` (and `num_classes`, `vocab_size`) by default: a user who knows
their data says so (spec ``dataset.task`` or a dataset attribute, DESIGN §2), and the twin must
train the very same model. ``declared=False`` gives a bare dataset instead, to check what
trainlint infers from the samples alone.

Used by tests/test_twins.py and benchmarks/accuracy.py (which puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
import yaml

from trainlint.components import losses
from trainlint.components.base import DataBundle, DataInfo
from trainlint.components.build import adapt_builtin_targets, num_outputs_for
from trainlint.components.datasets import build_dataset
from trainlint.spec.loader import LoadedSpec, load_spec

DATA_FILE, MODEL_FILE, TENSORS_FILE = "twin_data.py", "twin_model.py", "twin_data.pt"
_FILE_TARGET = re.compile(r"^(?P<file>.+\.py):(?P<attr>[\w.]+)$")

_DATA_SOURCE = '''"""User-code twin of {config} (seed {seed}): the built-in dataset's own split, as TensorDatasets."""

from pathlib import Path

import torch
from torch.utils.data import TensorDataset


class TwinData(TensorDataset):
{attributes}


def make():
    t = torch.load(Path(__file__).with_name({tensors!r}))
    val = TwinData(t["x_val"], t["y_val"]) if t["x_val"] is not None else None
    return TwinData(t["x_train"], t["y_train"]), val
'''

_MODEL_SOURCE = '''"""User-code twin of {config}: trainlint's `{name}` model inside the user's own Module."""

import torch

from trainlint.components.base import DataInfo
from trainlint.components.models import build_model

INFO = {info!r}


class TwinNet(torch.nn.Module):
    def __init__(self, **args):
        super().__init__()
        self.net = build_model({name!r}, INFO, {num_outputs!r}, args)

    def forward(self, *inputs, **keywords):
        return self.net(*inputs, **keywords)
'''


def _loss_class(loaded: LoadedSpec) -> type | None:
    return losses.lookup(loaded.spec.loss.name) if loaded.spec.loss.name else None


def twin_data(loaded: LoadedSpec) -> DataBundle:
    """The data exactly as a probe of the built-in spec trains on it (split, scaled, targets adapted)."""
    spec, loss = loaded.spec, _loss_class(loaded)
    data = build_dataset(spec.dataset, spec.seed, loaded.base_dir, loss.__name__ if loss else None)
    return adapt_builtin_targets(data, loss)


def _absolute_targets(section: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """A spec section whose file `target:` resolves from anywhere (it was relative to the spec)."""
    target = section.get("target")
    match = _FILE_TARGET.match(target) if isinstance(target, str) else None
    if match and not Path(match["file"]).is_absolute():
        section = {**section, "target": f"{(base_dir / match['file']).resolve()}:{match['attr']}"}
    return section


def _attributes(info: DataInfo, declared: bool) -> str:
    """The dataset class body: what it declares about itself (`pass` for a bare dataset)."""
    if not declared:
        return "    pass"
    return "\n".join(f"    {name} = {getattr(info, name)!r}" for name in ("task", "num_classes", "vocab_size"))


def _write_data(bundle: DataBundle, config: Path, seed: int, dest: Path, declared: bool) -> None:
    x_train, y_train, x_val, y_val = bundle.tensors
    torch.save({"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val}, dest / TENSORS_FILE)
    (dest / DATA_FILE).write_text(_DATA_SOURCE.format(
        config=config.name, seed=seed, attributes=_attributes(bundle.info, declared), tensors=TENSORS_FILE))


def _write_model(name: str, info: DataInfo, num_outputs: int | None, config: Path, dest: Path) -> None:
    (dest / MODEL_FILE).write_text(_MODEL_SOURCE.format(config=config.name, name=name, info=info,
                                                        num_outputs=num_outputs))


def twin_sections(loaded: LoadedSpec, dest: Path, declared: bool = True) -> dict[str, Any]:
    """Write the twin's data/model files into `dest`; return the twin spec as a mapping.

    Data and model that the config already takes from `target:` are kept (with their file
    paths made absolute); built-in ones are replaced by the generated files.
    """
    spec = loaded.spec
    written = spec.model_dump(mode="json", exclude_unset=True)
    sections = {k: _absolute_targets(v, loaded.base_dir) if isinstance(v, dict) else v
                for k, v in written.items()}
    bundle = twin_data(loaded) if spec.dataset.target is None or spec.model.target is None else None
    if spec.dataset.target is None:
        _write_data(bundle, loaded.path, spec.seed, dest, declared)
        dataset = {k: v for k, v in sections["dataset"].items() if k not in ("name", "args")}
        sections["dataset"] = {**dataset, "target": f"./{DATA_FILE}:make"}
    if spec.model.target is None:
        _write_model(spec.model.name, bundle.info, num_outputs_for(bundle.info, _loss_class(loaded)),
                     loaded.path, dest)
        model = {k: v for k, v in sections["model"].items() if k != "name"}
        sections["model"] = {**model, "target": f"./{MODEL_FILE}:TwinNet"}
    return sections


def make_twin(config: str | Path, dest: str | Path, seed: int | None = None, declared: bool = True) -> Path:
    """Generate the user-code twin of `config` in `dest`; return the twin spec's path.

    Args:
        config: a zoo spec (configs/faults/*.yaml, configs/healthy/*.yaml, ...).
        dest: an existing, empty directory (it holds the twin spec, data and model files).
        seed: the seed to build for (the data is generated for it); default: the spec's own.
        declared: the dataset declares its `task`, `num_classes` and `vocab_size`; False gives a
            bare dataset, whose description trainlint must infer from the samples (and the loss).
    """
    config, dest = Path(config), Path(dest)
    loaded = load_spec(config, [f"seed={seed}"] if seed is not None else [])
    sections = twin_sections(loaded, dest, declared)
    sections["seed"] = loaded.spec.seed
    twin = dest / config.name
    twin.write_text(f"# user-code twin of {config.resolve()}\n" + yaml.safe_dump(sections, sort_keys=False))
    return twin


def is_twinnable(config: str | Path) -> bool:
    """Whether the config has a built-in dataset or model for a twin to replace."""
    spec = load_spec(Path(config)).spec
    return spec.dataset.target is None or spec.model.target is None
