"""`trainlint diagnose PATH`: the rules on a run that finished elsewhere (run folder or TensorBoard log)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from trainlint.cli import options as o
from trainlint.cli.errors import handle_errors
from trainlint.cli.output import emit


class Task(str, Enum):
    multiclass = "multiclass"
    binary = "binary"
    regression = "regression"


TB = "TensorBoard logs"
Path_ = Annotated[Path, typer.Argument(
    help="A trainlint run folder (holding record.json: probe, trainlint.watch, callbacks) or a TensorBoard "
    "log directory with one run.", show_default=False)]
Out = Annotated[Path | None, typer.Option(
    "--out", help="Output folder (default: PATH/diagnose/ for a run folder, whose own files stay as they are; "
    "trainlint-out/<run name>/ for a TensorBoard log).")]
LossTag = Annotated[str | None, typer.Option(
    "--loss-tag", metavar="<tag>", rich_help_panel=TB,
    help="Scalar tag of the training loss (default: the first of train/loss, loss/train, train_loss, loss, ...).")]
LrTag = Annotated[str | None, typer.Option(
    "--lr-tag", metavar="<tag>", rich_help_panel=TB,
    help="Scalar tag of the learning rate (default: train/learning_rate, lr, learning_rate, lr-<Optimizer>, ...).")]
ValLossTag = Annotated[str | None, typer.Option(
    "--val-loss-tag", metavar="<tag>", rich_help_panel=TB,
    help="Scalar tag of the validation loss (default: eval/loss, loss/val, val_loss, Loss/val, ...).")]
ValMetricTag = Annotated[str | None, typer.Option(
    "--val-metric-tag", metavar="<tag>", rich_help_panel=TB,
    help="Scalar tag of a validation metric (default: eval/accuracy, accuracy/val, val_acc, Accuracy/val, ...).")]
HigherIsBetter = Annotated[bool | None, typer.Option(
    "--higher-is-better/--lower-is-better", rich_help_panel=TB, show_default=False,
    help="Direction of the validation metric, when its tag does not say (acc, f1, auc: higher; mae, error: lower).")]
TaskOpt = Annotated[Task | None, typer.Option(
    "--task", rich_help_panel=TB, help="The task the run trained (binary sets accuracy's chance level to 0.5).")]
NumClasses = Annotated[int | None, typer.Option(
    "--num-classes", min=2, metavar="<C>", rich_help_panel=TB,
    help="Number of classes: sets accuracy's chance level (1/C), which the underfitting rule needs.")]


def diagnose_command(
    path: Path_,
    out: Out = None,
    fmt: o.Format = o.OutputFormat.text,
    fail_on: o.FailOnOpt = o.FailOn.error,
    select: o.Select = None,
    ignore: o.Ignore = None,
    no_plots: o.NoPlots = False,
    loss_tag: LossTag = None,
    lr_tag: LrTag = None,
    val_loss_tag: ValLossTag = None,
    val_metric_tag: ValMetricTag = None,
    higher_is_better: HigherIsBetter = None,
    task: TaskOpt = None,
    num_classes: NumClasses = None,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
) -> None:
    """Diagnose a run that finished elsewhere: a trainlint run folder or a TensorBoard log.

    Same outputs in --out and the same exit status as `probe`. From a TensorBoard log the
    loss-curve, LR and validation rules run; rules needing what a log does not hold (gradients,
    activations, the first batch, the data) are listed as not evaluated.
    """
    from trainlint.diagnose import DiagnoseOptions, TagOptions, diagnose

    with handle_errors():
        tags = TagOptions(loss_tag, lr_tag, val_loss_tag, val_metric_tag, higher_is_better,
                          task.value if task else None, num_classes)
        result = diagnose(path, DiagnoseOptions(out=out, select=select or [], ignore=ignore or [],
                                                plots=not no_plots, tags=tags))
        if not quiet and result.note:
            typer.echo(result.note, err=True)
        raise typer.Exit(emit(result.outcome, fmt.value, fail_on.value, verbose=verbose, quiet=quiet))
