"""verl / TRL spellings of the metric names: the mapping, renaming of frames and dicts, the CLI."""

import pandas as pd
import pytest

from entropy_lab.analysis.metric_names import metric_name_map, rename_metrics
from entropy_lab.cli import main
from entropy_lab.registry import UnknownNameError


def test_mapping_names_the_framework_metrics():
    verl, trl = metric_name_map("verl"), metric_name_map("trl")
    assert verl["clip/frac"] == "actor/pg_clipfrac"
    assert verl["clip/frac_dual"] == "actor/pg_clipfrac_lower"
    assert trl["clip/frac_low"] == "clip_ratio/low_mean"
    assert trl["clip/frac_high"] == "clip_ratio/high_mean"
    assert metric_name_map("native") == {}


def test_rename_keeps_unmapped_names_and_values():
    df = pd.DataFrame({"step": [0, 1], "clip/frac_low": [0.1, 0.2], "J": [0.3, 0.4]})
    out = rename_metrics(df, "trl")
    assert list(out.columns) == ["step", "clip_ratio/low_mean", "J"]
    assert out["clip_ratio/low_mean"].tolist() == [0.1, 0.2]
    assert list(df.columns) == ["step", "clip/frac_low", "J"]  # input unchanged
    assert rename_metrics({"clip/frac": 1.0, "x": 2.0}, "verl") == {"actor/pg_clipfrac": 1.0,
                                                                    "x": 2.0}


def test_unknown_style_lists_choices():
    with pytest.raises(UnknownNameError, match="trl"):
        metric_name_map("openrlhf")


def test_cli_sim_writes_verl_names(tmp_path):
    out = tmp_path / "run.csv"
    assert main(["sim", "--problem", "bandit/calibrated", "--algo", "dapo", "--steps", "2",
                 "--seeds", "1", "--out", str(out), "--metrics-style", "verl"]) == 0
    cols = pd.read_csv(out).columns
    assert "actor/pg_clipfrac" in cols and "clip/frac" not in cols and "entropy" not in cols
