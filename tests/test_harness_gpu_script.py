"""The prepared GPU script (benchmarks/gpu_harness.py) runs end to end with --tiny on the CPU."""

import importlib.util
import json

import pandas as pd
import torch

from entropy_lab.project import project_root


def load_script():
    path = project_root() / "benchmarks" / "gpu_harness.py"
    spec = importlib.util.spec_from_file_location("gpu_harness", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_script_tiny_writes_every_result(tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setattr(script, "RUNS", (("grpo", "bf16"), ("dapo", "fp32-logprobs")))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        summary = script.run(tiny=True, out=tmp_path / "res", cache=str(tmp_path / "cache"))
    finally:
        torch.set_num_threads(threads)
    bias = pd.read_csv(tmp_path / "res" / "ratio_bias.csv")
    assert set(bias["precision"]) == set(script.PRECISIONS)
    assert (bias["frac_r_ne_1"].between(0, 1)).all() and (bias["tokens"] > 0).all()
    traj = pd.read_csv(tmp_path / "res" / "trajectories.csv")
    assert set(zip(traj["algo"], traj["precision"])) == set(script.RUNS)
    assert {"entropy/token", "pass@1", "thm1/dH_pred", "speed/gen_tok_s"} <= set(traj.columns)
    tput = pd.read_csv(tmp_path / "res" / "throughput.csv")
    assert (tput["gen_tok_s"] > 0).all() and (tput["train_tok_s"] > 0).all()
    saved = json.loads((tmp_path / "res" / "summary.json").read_text())
    assert saved["device"] == "cpu" and len(summary["trajectories"]) == 2
