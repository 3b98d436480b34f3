"""The RL loop over tabular policies, batched over seeds, with exact per-step theory.

    simulate(problem, algorithm, config=None, generator=None, **overrides) -> pandas.DataFrame
    run(...) -> SimResult(frame, logits [B, S, K] final, state)
    sweep(grid, problem=..., ...) -> pandas.DataFrame

One row per (seed, step). Row 0 is the initial policy; row t describes iteration t:

- exact, after the update: entropy (token-averaged), entropy_seq (Σ_s visits·H_s), J, pass@1,
  pass@{k} (any k); cum_entropy = Σ_{t' <= t} entropy_{t'} (0 at step 0); H_max = the entropy
  ceiling at that pass@1, on problems that define one (multi-prompt bandits with 0/1
  correctness, token trees and multi-prompt trees);
- the update: dH_exact = entropy_t − entropy_{t−1}; dH_pred = ∇_z H·Δz (autograd, the actual
  Δlogits of the whole iteration); dH_pred_state = Σ_s w_s·Theorem 1 per state (visit weights
  frozen at t − 1); dH_pred_closed = the closed form −η·E_π[π·A_c·L] (vanilla) or
  −η·Cov_π(log π, A) (natural) where its premises hold (expected-mode exact-advantage REINFORCE,
  SGD, one state), else NaN; with a shared-parameter policy also dH_pred_param = ∇_θH·Δθ and
  dH_pred_orth (SGD: the tabular step on the same minibatch gradients; NaN with Adam);
- the batch (sampled mode): reward_mean, pass@{k}_est (unbiased estimate from the G samples of
  each prompt; only for k <= G), loss, clip/frac_low, clip/frac_high, clip/frac, ratio/mean,
  ratio/min, ratio/max and any further loss metric (means over the minibatches; true min/max
  of ``*/min``, ``*/max``); with an advantage shaping (REPO variants) also shape/abs_adv,
  shape/abs_shaped, shape/abs_change, shape/abs_adv_entropy (``entropy_lab.algorithms.step``); in
  expected mode reward_mean is the exact J the update starts from and the loss metrics are NaN;
- zeta, eps_high, entropy_coef: the values in effect during the iteration (a controller's state,
  else the algorithm's fixed hyperparameter, else NaN), plus entropy_target (the controllers'
  reference: the first rollout's token entropy; NaN at step 0 in sampled mode);
- task ("A", or "B" after ``switch_task_at``).

``frame.attrs`` holds the config, the algorithm (as dicts), the problem id and the precision.
"""

from entropy_lab.sim.config import SimConfig
from entropy_lab.sim.io import write_frame
from entropy_lab.sim.loop import SimResult, SimulationError, run, simulate
from entropy_lab.sim.pipeline import ExactPipeline, resolve_pipeline
from entropy_lab.sim.sweep import Backend, LocalBackend, sweep
from entropy_lab.sim.threads import single_thread

__all__ = [
    "Backend",
    "ExactPipeline",
    "LocalBackend",
    "SimConfig",
    "SimResult",
    "SimulationError",
    "resolve_pipeline",
    "run",
    "simulate",
    "single_thread",
    "sweep",
    "write_frame",
]
