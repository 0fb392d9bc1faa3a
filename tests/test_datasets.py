"""Tests for the dataset registry: built-ins, file datasets, user targets, splits and errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from trainlint.components.base import ComponentError
from trainlint.components.datasets import NAMES, build_dataset
from trainlint.spec.schema import DatasetSpec


def build(name: str | None = None, *, seed: int = 0, spec_dir: Path = Path("."), **kw):
    return build_dataset(DatasetSpec(name=name, **kw), seed, spec_dir)


def raises(field: str, **kw) -> ComponentError:
    spec_dir = kw.pop("spec_dir", Path("."))
    with pytest.raises(ComponentError) as info:
        build(spec_dir=spec_dir, **kw)
    assert info.value.field == field, str(info.value)
    return info.value


@pytest.fixture
def files(tmp_path: Path) -> Path:
    rows = ["a,b,c,label"] + [f"{i},{i % 7 * 0.5},{-i},{i % 3}" for i in range(60)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(50, 5)), y=rng.normal(size=50))
    return tmp_path


# -- every built-in, with its defaults -------------------------------------------------

EXPECTED = {  # name: (task, input_shape, input_kind, num_classes, num_targets, n_samples)
    "digits": ("multiclass", (64,), "tabular", 10, None, 1797),
    "iris": ("multiclass", (4,), "tabular", 3, None, 150),
    "wine": ("multiclass", (13,), "tabular", 3, None, 178),
    "breast-cancer": ("binary", (30,), "tabular", 2, None, 569),
    "diabetes": ("regression", (10,), "tabular", None, 1, 442),
    "synthetic-classification": ("multiclass", (20,), "tabular", 3, None, 1500),
    "synthetic-regression": ("regression", (10,), "tabular", None, 1, 1500),
    "synthetic-images": ("multiclass", (1, 16, 16), "image", 4, None, 1200),
    "synthetic-sequences": ("multiclass", (20, 4), "sequence", 2, None, 1500),
    "csv": ("multiclass", (3,), "tabular", 3, None, 60),
    "npz": ("regression", (5,), "tabular", None, 1, 50),
}


def test_names_cover_expected_and_import_without_heavy_modules():
    assert set(NAMES) == set(EXPECTED)
    code = (
        "import sys; from trainlint.components.datasets import NAMES; assert NAMES; "
        "print(sorted(m for m in ('torch', 'sklearn', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_builtin_defaults(name: str, files: Path):
    args = {"csv": {"path": "data.csv", "target": "label"}, "npz": {"path": "data.npz"}}
    bundle = build(name, spec_dir=files, args=args.get(name, {}))
    task, shape, kind, classes, targets, n = EXPECTED[name]
    info = bundle.info
    assert (info.task, info.input_shape, info.input_kind) == (task, shape, kind)
    assert (info.num_classes, info.num_targets) == (classes, targets)
    assert bundle.builtin and isinstance(bundle.train, torch.utils.data.TensorDataset)
    x, y, xv, yv = bundle.tensors
    assert len(x) + len(xv) == n and len(xv) == round(n * 0.2)
    assert x.dtype == torch.float32 and x.shape[1:] == shape
    if task == "regression":
        assert y.dtype == torch.float32 and y.shape == (len(x), targets)
    else:
        assert y.dtype == torch.int64 and y.shape == (len(x),)
        assert int(y.min()) >= 0 and int(y.max()) < classes
    xi, yi = bundle.val[0]
    assert torch.equal(xi, xv[0]) and torch.equal(yi, yv[0])


def test_tokens_are_int64_with_vocab():
    bundle = build("synthetic-sequences", args={"tokens": True, "vocab_size": 9, "length": 12})
    x = bundle.tensors[0]
    assert bundle.info.input_kind == "tokens" and bundle.info.vocab_size == 9
    assert x.dtype == torch.int64 and x.shape[1:] == (12,)
    assert int(x.min()) >= 1 and int(x.max()) < 9


def test_digits_raw_by_default_and_as_images():
    x = build("digits").tensors[0]
    assert float(x.max()) == 16.0 and float(x.min()) == 0.0
    images = build("digits", args={"as_images": True})
    assert images.info.input_kind == "image" and images.tensors[0].shape[1:] == (1, 8, 8)


def test_val_fraction_zero_gives_no_val():
    bundle = build("iris", val_fraction=0.0)
    assert bundle.val is None and bundle.tensors[2] is None and len(bundle.train) == 150


# -- determinism and standardising -------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["synthetic-classification", "synthetic-regression", "synthetic-images",
             "synthetic-sequences"],
)  # fmt: skip
def test_synthetic_is_deterministic_in_the_seed(name: str):
    a, b, c = (build(name, seed=s).tensors for s in (3, 3, 4))
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


def test_real_data_split_depends_on_seed_only():
    a, b, c = (build("wine", seed=s).tensors for s in (1, 1, 2))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])


def test_standardize_uses_train_statistics():
    raw = build("synthetic-classification", args={"scale": 1000.0}).tensors
    assert float(raw[0].abs().mean()) > 100  # scale makes un-normalised data
    x, _, xv, _ = build(
        "synthetic-classification", args={"scale": 1000.0, "standardize": True}
    ).tensors
    assert torch.allclose(x.mean(0), torch.zeros(20), atol=1e-4)
    assert torch.allclose(x.std(0, unbiased=False), torch.ones(20), atol=1e-3)
    mean, std = raw[0].double().mean(0), raw[0].double().std(0, unbiased=False)
    assert torch.allclose(xv.double(), (raw[2].double() - mean) / std, atol=1e-4)


def test_standardize_images_per_channel_and_rejects_tokens():
    x = build("synthetic-images", args={"channels": 3, "standardize": True}).tensors[0]
    assert torch.allclose(x.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    raises("dataset.args.standardize", name="synthetic-sequences",
           args={"tokens": True, "standardize": True})  # fmt: skip


# -- tasks -------------------------------------------------------------------------------


def test_task_overrides():
    reg = build("digits", task="regression")
    assert reg.info.task == "regression" and reg.info.num_targets == 1
    assert reg.tensors[1].dtype == torch.float32 and reg.tensors[1].shape[1] == 1
    multi = build("breast-cancer", task="multiclass")
    assert multi.info.task == "multiclass" and multi.info.num_classes == 2
    assert (
        build("synthetic-classification", args={"n_classes": 2}, task="binary").info.task
        == "binary"
    )
    # task: binary alone picks 2 classes for the synthetic generator
    assert build("synthetic-classification", task="binary").info.num_classes == 2


def test_impossible_tasks_are_errors():
    assert "10" in str(raises("dataset.task", name="digits", task="binary"))
    assert "continuous" in str(
        raises("dataset.task", name="synthetic-regression", task="multiclass")
    )


def test_synthetic_classification_binary_and_imbalance():
    bundle = build("synthetic-classification", args={"binary": True})
    assert (bundle.info.task, bundle.info.num_classes) == ("binary", 2)
    y = build("synthetic-classification", args={"n_classes": 2, "class_weights": [9, 1]}).tensors[1]
    assert 0.8 < float((y == 0).float().mean()) < 0.97
    raises("dataset.args.class_weights", name="synthetic-classification",
           args={"class_weights": [1, 2]})  # fmt: skip
    raises("dataset.args.n_classes", name="synthetic-classification",
           args={"binary": True, "n_classes": 3})  # fmt: skip


def test_regression_with_several_targets():
    bundle = build("synthetic-regression", args={"n_targets": 3, "target_scale": 100.0})
    assert bundle.info.num_targets == 3 and bundle.tensors[1].shape[1] == 3
    assert float(bundle.tensors[1].std()) > 50


# -- argument errors ---------------------------------------------------------------------


def test_unknown_argument_names_field_and_suggests():
    err = raises("dataset.args.n_sample", name="synthetic-classification", args={"n_sample": 5})
    assert err.suggestions[0] == "n_samples" and "n_samples" in err.accepted


def test_bad_values_name_the_field():
    raises("dataset.args.n_samples", name="synthetic-classification", args={"n_samples": "many"})
    raises("dataset.args.noise", name="synthetic-images", args={"noise": -1})
    assert raises("dataset.name", name="digts").suggestions[0] == "digits"


# -- csv and npz -------------------------------------------------------------------------


def test_csv_errors(files: Path):
    raises("dataset.args.path", name="csv", spec_dir=files, args={"target": "label"})
    raises(
        "dataset.args.path", name="csv", spec_dir=files, args={"path": "nope.csv", "target": "x"}
    )
    err = raises("dataset.args.target", name="csv", spec_dir=files,
                 args={"path": "data.csv", "target": "lable"})  # fmt: skip
    assert err.suggestions[0] == "label" and "a, b, c, label" in err.accepted
    err = raises("dataset.args.target", name="csv", spec_dir=files, args={"path": "data.csv"})
    assert "label" in err.accepted


def test_csv_text_labels_regression_and_missing_cells(tmp_path: Path):
    rows = ["x1,x2,kind,price"] + [
        f"{i},{'' if i == 3 else i * 2},{'cat' if i % 2 else 'dog'},{i * 1.37}" for i in range(30)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    labels = build("csv", spec_dir=tmp_path, args={"path": "t.csv", "target": "kind"})
    assert (labels.info.task, labels.info.num_classes) == ("multiclass", 2)
    assert any("cat→0" in n for n in labels.notes) and any("NaN" in n for n in labels.notes)
    (tmp_path / "grades.csv").write_text(
        "x,grade\n" + "".join(f"{i},{i % 3 + 1}\n" for i in range(9))
    )
    grades = build("csv", spec_dir=tmp_path, args={"path": "grades.csv", "target": "grade"})
    assert grades.info.num_classes == 3 and set(grades.tensors[1].tolist()) <= {0, 1, 2}
    as_reg = build("csv", spec_dir=tmp_path, task="regression",
                   args={"path": "grades.csv", "target": "grade"})  # fmt: skip
    assert set(as_reg.tensors[1].flatten().tolist()) <= {1.0, 2.0, 3.0}  # raw values, not labels
    price = build("csv", spec_dir=tmp_path,
                  args={"path": "t.csv", "target": "price", "features": ["x1"]})  # fmt: skip
    assert price.info.task == "regression" and price.info.input_shape == (1,)
    err = raises("dataset.args.features", name="csv", spec_dir=tmp_path,
                 args={"path": "t.csv", "target": "price"})  # fmt: skip
    assert "cat" in str(err) or "dog" in str(err)


def test_npz_keys_tokens_and_errors(tmp_path: Path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "t.npz", ids=rng.integers(0, 7, (40, 6)), labels=rng.integers(1, 4, 40))
    bundle = build(
        "npz", spec_dir=tmp_path, args={"path": "t.npz", "x_key": "ids", "y_key": "labels"}
    )
    assert bundle.info.input_kind == "tokens" and bundle.info.vocab_size == 7
    assert bundle.info.num_classes == 3 and bundle.tensors[0].dtype == torch.int64
    err = raises("dataset.args.x_key", name="npz", spec_dir=tmp_path, args={"path": "t.npz"})
    assert "ids" in err.accepted


# -- user datasets (dataset.target) ------------------------------------------------------

USER_CODE = textwrap.dedent(
    """
    import torch
    from torch.utils.data import Dataset

    class Blobs(Dataset):
        def __init__(self, n=100, float_targets=False, task=None):
            g = torch.Generator().manual_seed(0)
            self.x = torch.randn(n, 6, generator=g)
            self.y = torch.arange(n) % 4
            if float_targets:
                self.y = self.x.sum(1)
            if task:
                self.task = task
        def __len__(self):
            return len(self.x)
        def __getitem__(self, i):
            return self.x[i], self.y[i]

    class Tokens(Blobs):
        vocab_size = 50
        def __getitem__(self, i):
            return torch.full((8,), i % 10), int(i % 2)

    def pair(n=30):
        return Blobs(n), Blobs(10)

    def boom():
        raise ValueError("boom")

    def not_data():
        return 42

    class Broken(Blobs):
        def __getitem__(self, i):
            raise KeyError(i)
    """
)


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    (tmp_path / "mydata.py").write_text(USER_CODE)
    return tmp_path


def user(user_dir: Path, attr: str, **kw):
    return build(target=f"mydata.py:{attr}", spec_dir=user_dir, **kw)


def test_user_dataset_class_is_split_and_described(user_dir: Path):
    bundle = user(user_dir, "Blobs", args={"n": 100}, seed=1)
    assert not bundle.builtin and bundle.tensors is None
    assert isinstance(bundle.train, torch.utils.data.Subset) and len(bundle.val) == 20
    assert len(bundle.train) == 80
    info = bundle.info
    assert (info.task, info.num_classes, info.input_shape, info.input_kind) == (
        "multiclass", 4, (6,), "tabular")  # fmt: skip
    again = user(user_dir, "Blobs", args={"n": 100}, seed=1)
    assert bundle.val.indices == again.val.indices


def test_user_factory_returning_train_val(user_dir: Path):
    bundle = user(user_dir, "pair", args={"n": 30})
    assert (len(bundle.train), len(bundle.val)) == (30, 10)


def test_user_task_inference(user_dir: Path):
    reg = user(user_dir, "Blobs", args={"float_targets": True})
    assert (reg.info.task, reg.info.num_targets, reg.info.num_classes) == ("regression", 1, None)
    assert user(user_dir, "Blobs", args={"task": "regression"}).info.task == "regression"
    assert user(user_dir, "Blobs", task="regression").info.task == "regression"
    tokens = user(user_dir, "Tokens")
    assert (tokens.info.input_kind, tokens.info.vocab_size, tokens.info.num_classes) == (
        "tokens", 50, 2)  # fmt: skip
    raises("dataset.task", target="mydata.py:Blobs", spec_dir=user_dir, task="binary")


def test_user_errors(user_dir: Path):
    err = raises("dataset.target", target="mydata.py:boom", spec_dir=user_dir)
    assert "ValueError: boom" in str(err)
    assert "int" in str(raises("dataset.target", target="mydata.py:not_data", spec_dir=user_dir))
    assert "KeyError" in str(raises("dataset.target", target="mydata.py:Broken", spec_dir=user_dir))
    err = raises("dataset.args.bogus", target="mydata.py:Blobs", spec_dir=user_dir, args={"bogus": 1})
    assert "Blobs has no argument `bogus`" in str(err) and err.accepted  # from the class's own signature


# -- learnability: synthetic data is neither noise nor trivial ---------------------------


def val_accuracy(bundle, features=lambda x: x.reshape(len(x), -1).numpy()) -> float:
    from sklearn.linear_model import LogisticRegression

    x, y, xv, yv = bundle.tensors
    model = LogisticRegression(max_iter=1000).fit(features(x), y.numpy())
    return float(model.score(features(xv), yv.numpy()))


def counts(x: torch.Tensor) -> np.ndarray:
    return np.stack([(x == v).sum(1).numpy() for v in range(int(x.max()) + 1)], axis=1)


@pytest.mark.parametrize(
    ("name", "args", "chance", "floor"),
    [
        ("synthetic-classification", {}, 1 / 3, 0.75),
        ("synthetic-classification", {"n_classes": 2}, 1 / 2, 0.85),
        ("synthetic-images", {}, 1 / 4, 0.6),
        ("synthetic-sequences", {}, 1 / 2, 0.75),
        ("synthetic-sequences", {"n_classes": 4}, 1 / 4, 0.5),
    ],
)
def test_synthetic_classification_is_learnable(name, args, chance, floor):
    accuracy = val_accuracy(build(name, args=args))
    assert floor > chance + 0.2 and accuracy > floor, accuracy


def test_synthetic_tokens_label_depends_on_marker_count():
    assert val_accuracy(build("synthetic-sequences", args={"tokens": True}), counts) > 0.9


def test_synthetic_regression_is_learnable_and_nonlinear():
    from sklearn.linear_model import Ridge

    x, y, xv, yv = build("synthetic-regression", args={"nonlinearity": 0.0}).tensors
    assert Ridge().fit(x.numpy(), y.numpy()).score(xv.numpy(), yv.numpy()) > 0.9
    x, y, xv, yv = build("synthetic-regression").tensors
    assert Ridge().fit(x.numpy(), y.numpy()).score(xv.numpy(), yv.numpy()) < 0.6


@pytest.mark.parametrize("loader", ["load_digits", "load_iris", "load_wine", "load_breast_cancer", "load_diabetes"])
def test_bundled_files_read_like_sklearn_loaders(loader):
    """The fast direct read of scikit-learn's files gives exactly what its loaders give."""
    import sklearn.datasets

    from trainlint.components.datasets.sklearn_data import _load

    kwargs = {"scaled": False} if loader == "load_diabetes" else {}
    x, y = _load(loader, **kwargs)
    x_ref, y_ref = getattr(sklearn.datasets, loader)(return_X_y=True, **kwargs)
    np.testing.assert_allclose(x, x_ref.astype(np.float32))
    np.testing.assert_array_equal(y, y_ref)
