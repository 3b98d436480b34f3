"""The harness study (entropy_lab/harness/study.py): the grid, and a 2-step, 1-seed study end to
end including a kill between runs and inside a run, then a rerun that finishes it."""

import json

import pandas as pd
import pytest

pytest.importorskip("transformers")
pytest.importorskip("peft")

from entropy_lab.harness import study as S  # noqa: E402
from entropy_lab.harness import train  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = dict(pretrain_steps=30, pretrain_batch=32, prompts_per_step=2, group_size=4, pass_k=2,
            eval_seqs=4, lora_rank=2, device="cpu")


def test_the_default_grid():
    runs = S.study_runs()
    ids = [r.run_id for r in runs]
    assert len(ids) == len(set(ids)) == (5 * 3 + 1 + 3 + 1) * 3
    assert "dapo_fp32_logprobs_s2" in ids and "seq_repo_r_fp32_s0" in ids
    fresh = next(r for r in runs if r.kind == "fresh")
    assert fresh.run_id == "fresh_grpo_fp32_s0" and fresh.config.task == "palindrome"
    assert fresh.config.phase2_task is None and fresh.config.engine == "trainer"
    seq = next(r for r in runs if r.sequential)
    assert seq.config.phase2_task == "palindrome" and seq.config.phase2_steps == 200
    assert all(r.config.steps == 200 for r in runs)


class Killed(Exception):
    pass


def test_a_killed_study_resumes_and_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    kw = dict(algos=("grpo", "dapo"), precisions=("fp32",), extra=(), sequential=("grpo",),
              fresh=(), cache_dir=str(tmp_path / "cache"), **TINY)
    runs = S.study_runs(2, 1, **kw)
    assert [r.run_id for r in runs] == ["grpo_fp32_s0", "dapo_fp32_s0", "seq_grpo_fp32_s0"]
    clean = S.run_study(tmp_path / "clean", runs, progress=lambda m: None)

    real_step, calls = train.rl_step, []

    def dying(s, cfg, device):  # the kill: the 4th RL step overall (dapo's 2nd) never finishes
        calls.append(cfg.algo)
        if len(calls) == 4:
            raise Killed
        return real_step(s, cfg, device)

    monkeypatch.setattr(train, "rl_step", dying)
    with pytest.raises(Killed):
        S.run_study(tmp_path / "killed", runs, progress=lambda m: None)
    meta = json.loads((tmp_path / "killed" / "study.json").read_text())
    assert meta["finished"] == 1  # grpo finished and its rows are on disk already
    assert set(pd.read_csv(tmp_path / "killed" / "study.csv.gz").run_id) == {"grpo_fp32_s0"}
    monkeypatch.setattr(train, "rl_step", real_step)
    seen = []
    again = S.run_study(tmp_path / "killed", runs, progress=seen.append)
    assert seen == ["[2/3] dapo_fp32_s0 (resume)", "[3/3] seq_grpo_fp32_s0 (new)"]
    timing = [c for c in clean.columns if c.startswith(("speed/", "time/"))]
    a, b = clean.drop(columns=timing), again.drop(columns=timing)
    pd.testing.assert_frame_equal(a, b)
    assert set(clean.groupby("run_id").phase.max()) == {1, 2}
    assert (tmp_path / "clean" / "study.json").exists()


def test_two_jobs_give_the_frames_of_one(tmp_path):
    kw = dict(algos=("grpo", "rloo"), precisions=("bf16",), extra=(), sequential=(), fresh=(),
              engine="bf16-engine", cache_dir=str(tmp_path / "cache"), **TINY)
    runs = S.study_runs(2, 1, **kw)
    one = S.run_study(tmp_path / "one", runs, progress=lambda m: None)
    seen = []
    two = S.run_study(tmp_path / "two", runs, progress=seen.append, jobs=2)
    assert sorted(seen) == ["[1/2] grpo_bf16_s0 (new) done", "[2/2] rloo_bf16_s0 (new) done"]
    timing = [c for c in one.columns if c.startswith(("speed/", "time/"))]
    pd.testing.assert_frame_equal(one.drop(columns=timing), two.drop(columns=timing))
    meta = json.loads((tmp_path / "two" / "study.json").read_text())
    assert meta["finished"] == 2 and meta["jobs"] == 2 and meta["seeds"] == [0]
    assert 0 < meta["elapsed_s"] < meta["total_wall_s"] + 60
    assert set(meta["wall_s"]) == {"grpo_bf16_s0", "rloo_bf16_s0"}
    assert {"exact/pass@16", "exact/pass@64"} <= set(one.columns)
    written = pd.read_csv(tmp_path / "two" / "study.csv.gz").drop(columns=timing)
    expected = two.drop(columns=timing)
    for c in expected.columns[expected.isna().any()]:  # all-None columns read back as NaN
        expected[c] = pd.to_numeric(expected[c])
    pd.testing.assert_frame_equal(written, expected, check_dtype=False, rtol=1e-7)
