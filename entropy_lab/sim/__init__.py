"""The RL loop over tabular policies, batched over seeds, with exact per-step theory.

    simulate(problem, algorithm, config=None, generator=None, **overrides) -> pandas.DataFrame
    sweep(grid, problem=..., ...) -> pandas.DataFrame

One row per (seed, step); step 0 is the initial policy. Columns: step, seed, task, entropy
(token-averaged), entropy_seq, J, pass@1, pass@{k} (exact), pass@{k}_est (sampled mode: the
unbiased estimate from the batch's groups), dH_exact, dH_pred (∇_z H·Δz with the actual Δlogits),
dH_pred_state (Σ_s w_s·Theorem 1 per state, state weights frozen), dH_pred_closed (the closed
form where its premises hold, else NaN), clip/frac_low, clip/frac_high, clip/frac, ratio/mean,
ratio/min, ratio/max, zeta, eps_high, entropy_coef (NaN where absent), cum_entropy, reward_mean,
loss, and any further metric the loss or the controller reports.
"""

from entropy_lab.sim.config import SimConfig
from entropy_lab.sim.io import write_frame
from entropy_lab.sim.loop import SimResult, SimulationError, run, simulate
from entropy_lab.sim.pipeline import ExactPipeline, resolve_pipeline
from entropy_lab.sim.sweep import Backend, LocalBackend, sweep

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
    "sweep",
    "write_frame",
]
