"""`flask behavior benchmark`: measure the behaviour models on benchmark data sets.

The data go through the production path (telemetry items → feature extractors → models),
beside the in-run baseline; per-subject figures and the mean ± std are printed, ``--json``
writes them as ``{metric, mean, std, baseline_mean, per_subject, baseline_per_subject}``
and ``--plot`` draws the DET (keystrokes) or ROC (mouse) curves.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from app.services.behavior import datasets, evaluation, metrics

behavior_cli = AppGroup("behavior", help="Behavioural biometrics: benchmarks of the models.")


def _ids(text: str | None) -> set[str] | None:
    return {part.strip() for part in text.split(",") if part.strip()} if text else None


def _progress(subject: str) -> None:
    click.echo(f"  scored {subject}", err=True)


def _print(result: evaluation.Evaluation, held_out: set[str] | None) -> None:
    name = result.metric.upper()
    click.echo(f"{'subject':<12} {name + ' model':>12} {name + ' baseline':>15}")
    for subject, value in result.per_subject.items():
        mark = "  (held out)" if held_out and subject in held_out else ""
        baseline = result.baseline_per_subject[subject]
        click.echo(f"{subject:<12} {value:>12.4f} {baseline:>15.4f}{mark}")
    groups = {"all": set(result.per_subject)}
    if held_out:
        groups["tuning"] = set(result.per_subject) - held_out
        groups["held out"] = set(result.per_subject) & held_out
    for label, members in groups.items():
        if not members:
            continue
        model = metrics.summary({s: result.per_subject[s] for s in members})
        base = metrics.summary({s: result.baseline_per_subject[s] for s in members})
        click.echo(
            f"mean {name} {label} ({len(members)}): model {model[0]:.4f} ± {model[1]:.4f}, "
            f"baseline {base[0]:.4f} ± {base[1]:.4f}"
        )
    for note in result.notes:
        click.echo(f"note: {note}")


@behavior_cli.command("benchmark")
@click.option(
    "--cmu",
    "cmu_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CMU keystroke benchmark CSV (subject, sessionIndex, rep, H./DD./UD. columns).",
)
@click.option(
    "--balabit",
    "balabit_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Balabit mouse layout: training_files/, test_files/, labels.csv.",
)
@click.option("--subjects", help="Comma-separated ids: evaluate only these (the rest unused).")
@click.option("--held-out", help="Comma-separated ids to summarise apart from the tuning ones.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write {metric, mean, std, baseline_mean, per_subject, baseline_per_subject} here.",
)
@click.option(
    "--plot",
    "plot_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw the DET (keystrokes) or ROC (mouse) curves into this PNG.",
)
def benchmark(
    cmu_csv: Path | None,
    balabit_dir: Path | None,
    subjects: str | None,
    held_out: str | None,
    json_out: Path | None,
    plot_out: Path | None,
) -> None:
    """Evaluate the keystroke model (--cmu) or the mouse model (--balabit)."""
    if (cmu_csv is None) == (balabit_dir is None):
        raise click.UsageError("give exactly one of --cmu CSV or --balabit DIR")
    try:
        if cmu_csv is not None:
            samples = datasets.read_cmu(cmu_csv)
            result = evaluation.run_cmu(samples, _ids(subjects), _progress)
            title = f"Keystrokes (DET): {cmu_csv.name}"
        else:
            result = evaluation.run_balabit(balabit_dir, _ids(subjects), _progress)
            title = f"Mouse (ROC): {balabit_dir.name}"
    except (OSError, datasets.DatasetError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print(result, _ids(held_out))
    if json_out is not None:
        json_out.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    if plot_out is not None:
        from app.services.behavior.plots import save_curves

        save_curves(result, plot_out, title)


COMMANDS = (behavior_cli,)
