"""`flask behavior benchmark` on small generated files in the CMU and Balabit layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from tests.unit.behavior_data import write_balabit, write_cmu

KEYS = {"metric", "mean", "std", "baseline_mean", "per_subject", "baseline_per_subject"}


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def test_cmu_benchmark_prints_figures_and_writes_json_and_plot(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    csv = write_cmu(tmp_path / "typing.csv", subjects=3)
    out, png = tmp_path / "out.json", tmp_path / "det.png"
    result = runner.invoke(
        args=[
            *("behavior", "benchmark", "--cmu", str(csv), "--held-out", "s003"),
            *("--json", str(out), "--plot", str(png)),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "mean EER held out (1)" in result.output and "mean EER tuning (2)" in result.output
    report = json.loads(out.read_text())
    assert set(report) == KEYS and report["metric"] == "eer"
    assert (
        set(report["per_subject"])
        == set(report["baseline_per_subject"])
        == {
            "s001",
            "s002",
            "s003",
        }
    )
    assert report["mean"] < 0.1 and max(report["per_subject"].values()) < 0.2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_balabit_benchmark_separates_generated_users(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    root = write_balabit(tmp_path / "mouse", users=3)
    out, png = tmp_path / "out.json", tmp_path / "roc.png"
    result = runner.invoke(
        args=[
            *("behavior", "benchmark", "--balabit", str(root)),
            *("--json", str(out), "--plot", str(png)),
        ]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert set(report) == KEYS and report["metric"] == "auc"
    assert set(report["per_subject"]) == {"user1", "user2", "user3"}
    assert report["mean"] > 0.9
    assert "AUC model" in result.output
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_subjects_option_restricts_the_data(runner: FlaskCliRunner, tmp_path: Path) -> None:
    csv = write_cmu(tmp_path / "typing.csv", subjects=3)
    out = tmp_path / "out.json"
    result = runner.invoke(
        args=[
            *("behavior", "benchmark", "--cmu", str(csv)),
            *("--subjects", "s001,s002", "--json", str(out)),
        ]
    )
    assert result.exit_code == 0, result.output
    assert set(json.loads(out.read_text())["per_subject"]) == {"s001", "s002"}


def test_bad_invocations_fail_with_a_message(runner: FlaskCliRunner, tmp_path: Path) -> None:
    neither = runner.invoke(args=["behavior", "benchmark"])
    assert neither.exit_code == 2 and "exactly one of" in neither.output

    not_cmu = tmp_path / "other.csv"
    not_cmu.write_text("a,b,c\n1,2,3\n")
    wrong = runner.invoke(args=["behavior", "benchmark", "--cmu", str(not_cmu)])
    assert wrong.exit_code == 1 and "subject, sessionIndex, rep" in wrong.output

    too_few = write_cmu(tmp_path / "short.csv", subjects=2, reps=60)
    short = runner.invoke(args=["behavior", "benchmark", "--cmu", str(too_few)])
    assert short.exit_code == 1 and "the model needs 100" in short.output

    empty = tmp_path / "empty"
    empty.mkdir()
    missing = runner.invoke(args=["behavior", "benchmark", "--balabit", str(empty)])
    assert missing.exit_code == 1 and "not a Balabit layout" in missing.output
