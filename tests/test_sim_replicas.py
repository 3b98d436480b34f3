"""Hyperparameters as replicas: a run with one value per replica equals the separate runs, bad
per-replica input is rejected by name, and sweep's batched cells equal its cell-by-cell frames."""

import pandas as pd
import pytest
import torch

from entropy_lab.sim import SimConfig, simulate, sweep
from entropy_lab.sim.optim import ReplicaAdam, ReplicaSGD
from entropy_lab.sim.sweep import Cell, expand_grid, replica_groups
from entropy_lab.validation import InputError

pytestmark = pytest.mark.usefixtures("one_thread")

PROBLEM = "bandit/calibrated"
SMALL = SimConfig(steps=4, seeds=1, n_prompts=2, group_size=4, k=2, rng="per_seed")


def _replica(frame, b, n):
    """Rows of replica b of a frame with n replicas (rows are replica-major)."""
    rows = len(frame) // n
    return frame.iloc[b * rows:(b + 1) * rows].reset_index(drop=True)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("preset,key,values", [
    ("grpo", "eps_high", [0.05, 0.1, 0.3, 0.6]),
    ("grpo", "eps_low", [0.05, 0.1, 0.3, 0.6]),
    ("entropy_bonus", "entropy_coef", [0.0, 1e-3, 1e-2, 0.1]),
    ("repo", "beta", [0.0, 0.01, 0.1, 1.0]),
])
def test_per_replica_values_equal_the_separate_runs(optimizer, preset, key, values):
    lrs = [0.05, 0.1, 0.2, 0.4]
    ids = (3, 3, 5, 5)  # repeated seed ids: one seed under two hyperparameter settings
    batched = simulate(PROBLEM, preset, SMALL, seeds=4, seed_ids=ids, lr=lrs,
                       optimizer=optimizer, **{key: values})
    for b in range(4):
        alone = simulate(PROBLEM, preset, SMALL, first_seed=ids[b], lr=lrs[b],
                         optimizer=optimizer, **{key: values[b]})
        pd.testing.assert_frame_equal(_replica(batched, b, 4), alone, check_exact=True)
    # the same seed under other values gives another trajectory (the values reach the update)
    assert not _replica(batched, 0, 4).entropy.equals(_replica(batched, 1, 4).entropy)


def test_per_replica_lr_in_expected_mode_with_the_closed_form():
    cfg = SMALL.replace(mode="expected", seeds=3)
    lrs = [0.1, 0.5, 2.0]
    batched = simulate(PROBLEM, "rloo", cfg, lr=lrs, advantage="reinforce")
    assert "dH_pred_closed" in batched.columns
    for b in range(3):
        alone = simulate(PROBLEM, "rloo", cfg, seeds=1, first_seed=b, lr=lrs[b],
                         advantage="reinforce")
        pd.testing.assert_frame_equal(_replica(batched, b, 3), alone, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cls,torch_cls", [(ReplicaSGD, torch.optim.SGD),
                                           (ReplicaAdam, torch.optim.Adam)])
def test_replica_optimizers_match_torch_optim_per_replica_bitwise(cls, torch_cls):
    gen = torch.Generator().manual_seed(0)
    lr = torch.tensor([0.01, 0.3, 1.7], dtype=torch.float64)
    start = torch.randn(3, 2, 5, generator=gen, dtype=torch.float64)
    grads = [torch.randn(3, 2, 5, generator=gen, dtype=torch.float64) for _ in range(6)]
    p = start.clone().requires_grad_(True)
    opt = cls([p], lr)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    for b in range(3):
        q = start[b:b + 1].clone().requires_grad_(True)
        ref = torch_cls([q], lr=float(lr[b]))
        for g in grads:
            q.grad = g[b:b + 1].clone()
            ref.step()
        assert torch.equal(p.detach()[b:b + 1], q.detach())


@pytest.mark.parametrize("overrides,match", [
    ({"lr": [0.1, 0.2]}, r"lr=.*a sequence of length seeds=3"),
    ({"lr": [0.1, 0.0, 0.2]}, r"lr=.*> 0 per replica"),
    ({"lr": [0.1, float("nan"), 0.2]}, r"lr=.*finite number > 0"),
    ({"eps_high": [0.2, 0.3]}, r"eps_high=.*length seeds=3"),
    ({"eps_high": [0.2, "x", 0.3]}, r"eps_high=.*finite number per replica"),
    ({"minibatches": [1, 2, 4]}, r"minibatches=.*a single value"),
    ({"seed_ids": (0, 1)}, r"seed_ids=.*3 integers >= 0"),
    ({"seed_ids": (0, -1, 2)}, r"seed_ids=.*3 integers >= 0"),
])
def test_bad_per_replica_input_is_rejected_by_name(overrides, match):
    with pytest.raises(InputError, match=match):
        simulate(PROBLEM, "grpo", SMALL, seeds=3, **overrides)


def test_per_replica_values_rejected_where_they_cannot_apply():
    with pytest.raises(InputError, match=r"eps_low=.*mode='sampled'"):
        simulate(PROBLEM, "rloo", SMALL, seeds=2, mode="expected", eps_low=[0.1, 0.2])
    with pytest.raises(InputError, match=r"eps_high=.*controller 'eps_high'"):
        simulate(PROBLEM, "adapo", SMALL, seeds=2, eps_high=[0.2, 0.3])


GRID = {"algorithm": ["grpo", "repo"], "lr": [0.05, 0.3], "eps_high": [0.1, 0.4]}


def _cells(config):
    return [Cell(v, PROBLEM, config, {}) for v in expand_grid(GRID)]


def test_sweep_batches_cells_that_differ_in_replica_values():
    cfg = SMALL.replace(seeds=3)
    assert replica_groups(_cells(cfg)) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert replica_groups(_cells(cfg), batch=False) == [[i] for i in range(8)]
    # shared-stream draws depend on the batch: grouped only when asked
    shared = cfg.replace(rng="batched")
    assert replica_groups(_cells(shared)) == [[i] for i in range(8)]
    assert replica_groups(_cells(shared), batch=True) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    # clip_cov draws its token selection over the whole batch: not grouped by default
    clip = [Cell({"lr": lr}, PROBLEM, cfg, {"algorithm": "clip_cov"}) for lr in (0.1, 0.2)]
    assert replica_groups(clip) == [[0], [1]]


def test_batched_sweep_equals_the_cell_by_cell_sweep():
    cfg = SMALL.replace(seeds=3)
    batched = sweep(GRID, problem=PROBLEM, config=cfg, progress=False)
    separate = sweep(GRID, problem=PROBLEM, config=cfg, progress=False, batch=False)
    assert list(batched.columns[:2]) == ["algorithm", "lr"] and "eps_high" in batched.columns
    pd.testing.assert_frame_equal(batched, separate, rtol=1e-12, atol=0.0)
    assert sorted(set(batched.eps_high)) == [0.1, 0.4]  # the grid value, in the sim's column


def test_batched_sweep_with_shared_streams_keeps_the_columns(tmp_path):
    cfg = SMALL.replace(seeds=2, rng="batched")
    grid = {"lr": [0.05, 0.3, 1.0]}
    store = tmp_path / "cells"
    batched = sweep(grid, problem=PROBLEM, config=cfg, progress=False, batch=True,
                    algorithm="grpo", store=store)
    separate = sweep(grid, problem=PROBLEM, config=cfg, progress=False, algorithm="grpo")
    assert list(batched.columns) == list(separate.columns)
    assert batched.dtypes.equals(separate.dtypes)
    assert batched[["lr", "seed", "step"]].equals(separate[["lr", "seed", "step"]])
    assert len(list(store.glob("cell-*.parquet"))) == 3
    again = sweep(grid, problem=PROBLEM, config=cfg, progress=False, batch=True,
                  algorithm="grpo", store=store)
    assert again.attrs["from_store"] == 3
    pd.testing.assert_frame_equal(again, batched)
