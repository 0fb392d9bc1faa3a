"""Which scalar tags of a TensorBoard run are the training loss, the LR and the validation curves.

The user's `--*-tag` options win; otherwise the first tag (case-insensitive) of each list below
that the run holds. The lists cover what real tools write: Hugging Face `Trainer`
(`train/loss`, `train/learning_rate`, `eval/loss`, `eval/accuracy`), Lightning modules
(`train_loss`, `val_loss`, `val_acc`, `lr-<Optimizer>` from `LearningRateMonitor`),
trainlint's own export (`loss/train`, `lr`, `loss/val`, `accuracy/val`) and hand-written
`SummaryWriter` scripts (`Loss/train`, `loss`, `Loss/val`, `Accuracy/val`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainlint.spec.errors import SpecError, close_matches

TRAIN_LOSS = ("train/loss", "loss/train", "train_loss", "train_loss_step", "train/loss_step", "loss/training",
              "training_loss", "train/train_loss", "loss", "train_loss_epoch", "train/loss_epoch")
LR = ("train/learning_rate", "lr", "learning_rate", "train/lr", "lr/train", "learning-rate")
LR_PREFIX = "lr-"  # Lightning's LearningRateMonitor: lr-SGD, lr-Adam, lr-Adam/pg1
VAL_LOSS = ("eval/loss", "loss/val", "val_loss", "val/loss", "loss/validation", "validation_loss", "valid_loss",
            "val_loss_epoch", "validation/loss", "loss/valid", "loss/test", "test_loss", "test/loss")
VAL_METRIC = ("eval/accuracy", "accuracy/val", "val_acc", "val_accuracy", "val/acc", "val/accuracy",
              "accuracy/validation", "validation_accuracy", "acc/val", "val_acc_epoch", "accuracy/test",
              "test_acc", "test/accuracy", "mae/val", "eval/mae", "val_mae", "val/mae")
# Words in a metric's tag that say which way is better, and the name the report gives the metric.
HIGHER = {"acc": "accuracy", "accuracy": "accuracy", "f1": "f1", "auc": "auc", "auroc": "auroc",
          "precision": "precision", "recall": "recall", "iou": "iou", "dice": "dice", "map": "map"}
LOWER = {"mae": "mae", "mse": "mse", "rmse": "rmse", "error": "error", "err": "error", "wer": "wer",
         "cer": "cer", "perplexity": "perplexity", "ppl": "perplexity"}


@dataclass
class TagOptions:
    """What the command line says about the log; None: auto-detect."""

    loss: str | None = None
    lr: str | None = None
    val_loss: str | None = None
    val_metric: str | None = None
    higher_is_better: bool | None = None
    task: str | None = None
    num_classes: int | None = None

    def given(self) -> list[str]:
        """The options set, as typed (a run folder takes none of them)."""
        names = {"loss": "--loss-tag", "lr": "--lr-tag", "val_loss": "--val-loss-tag",
                 "val_metric": "--val-metric-tag", "task": "--task", "num_classes": "--num-classes",
                 "higher_is_better": "--higher-is-better/--lower-is-better"}
        return [flag for key, flag in names.items() if getattr(self, key) is not None]


@dataclass(frozen=True)
class Tags:
    loss: str
    lr: str | None
    val_loss: str | None
    val_metric: str | None
    metric_name: str = "accuracy"
    higher_is_better: bool = True


def choose_tags(tags: list[str], opts: TagOptions, run: Path) -> Tags:
    """The tags to read; a named tag that is missing, or no training loss at all, is a user error."""
    loss = _named(tags, opts.loss, "--loss-tag", run) or _first(tags, TRAIN_LOSS)
    if loss is None:
        raise SpecError(f"found no training-loss scalar in `{run}` (looked for {', '.join(TRAIN_LOSS[:6])}, ...); "
                        f"name it with --loss-tag", accepted=f"one of its scalar tags: {_listing(tags)}")
    lr = _named(tags, opts.lr, "--lr-tag", run) or _first(tags, LR) or _first_prefixed(tags, LR_PREFIX)
    val_loss = _named(tags, opts.val_loss, "--val-loss-tag", run) or _first(tags, VAL_LOSS)
    metric = _named(tags, opts.val_metric, "--val-metric-tag", run) or _first(tags, VAL_METRIC)
    if metric is None:
        return Tags(loss, lr, val_loss, None)
    name, higher = metric_kind(metric)
    if opts.higher_is_better is not None:
        higher = opts.higher_is_better
    if higher is None:
        raise SpecError(f"cannot tell whether a higher `{metric}` is better", origin="--val-metric-tag",
                        accepted="add --higher-is-better (accuracy-like) or --lower-is-better (error-like)")
    return Tags(loss, lr, val_loss, metric, name, higher)


def metric_kind(tag: str) -> tuple[str, bool | None]:
    """The metric's name for the report and whether higher is better (None: the tag does not say)."""
    words = [w for part in tag.lower().replace("-", "_").split("/") for w in part.split("_")]
    for word in words:
        if word in HIGHER:
            return HIGHER[word], True
        if word in LOWER:
            return LOWER[word], False
    return tag, None


def _named(tags: list[str], tag: str | None, option: str, run: Path) -> str | None:
    if tag is None or tag in tags:
        return tag
    raise SpecError(f"`{run}` has no scalar tag `{tag}`", origin=option, suggestions=close_matches(tag, tags),
                    accepted=f"one of its scalar tags: {_listing(tags)}")


def _first(tags: list[str], candidates: tuple[str, ...]) -> str | None:
    by_lower = {t.lower(): t for t in reversed(tags)}  # the first spelling wins on a case clash
    return next((by_lower[c] for c in candidates if c in by_lower), None)


def _first_prefixed(tags: list[str], prefix: str) -> str | None:
    return next((t for t in sorted(tags) if t.lower().startswith(prefix)), None)


def _listing(tags: list[str]) -> str:
    return ", ".join(sorted(tags)) if tags else "none (the run has no scalars)"
