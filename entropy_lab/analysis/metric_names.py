"""Metric names in the spelling of verl or TRL, for comparing a run here with one's own.

The toolkit's own names are namespaced (``clip/frac_low``, ``ratio/mean``, ...; their meaning is
in ``entropy_lab/algorithms/losses_common.py``). ``rename_metrics(frame, "verl")`` renames the
columns (or dict keys) that have a counterpart in that framework and leaves the others as they
are; ``"native"`` is the identity. The mapping, documented in ``docs/algorithms.md``, "Metric
names":

    here             verl                       TRL (GRPOTrainer)
    clip/frac        actor/pg_clipfrac          clip_ratio/region_mean
    clip/frac_low    —                          clip_ratio/low_mean
    clip/frac_high   —                          clip_ratio/high_mean
    clip/frac_dual   actor/pg_clipfrac_lower    —
    kl/old_new       actor/ppo_kl               —
    entropy          actor/entropy              entropy
    entropy/token    actor/entropy              entropy      (harness frames)
    reward_mean      critic/rewards/mean        reward
    reward/mean      critic/rewards/mean        reward       (harness frames)

``clip/frac`` counts a token once when either clip stops its gradient (A > 0 and r > 1 + ε_high,
or A < 0 and r < 1 − ε_low), which is verl's ``pg_clipfrac`` and TRL's region fraction;
``clip/frac_dual`` is the dual-clip event (A < 0, the c-bound binds), verl's
``pg_clipfrac_lower``. ``entropy`` here is the exact token entropy of the tabular policy (the
frameworks log the mean entropy of the sampled positions), so equal names do not promise equal
estimators.
"""

from __future__ import annotations

from entropy_lab.registry import Registry

METRIC_STYLES: Registry[dict[str, str]] = Registry("metrics_style")
METRIC_STYLES.register("native", {})
METRIC_STYLES.register("verl", {
    "clip/frac": "actor/pg_clipfrac",
    "clip/frac_dual": "actor/pg_clipfrac_lower",
    "kl/old_new": "actor/ppo_kl",
    "entropy": "actor/entropy",
    "entropy/token": "actor/entropy",
    "reward_mean": "critic/rewards/mean",
    "reward/mean": "critic/rewards/mean",
})
METRIC_STYLES.register("trl", {
    "clip/frac": "clip_ratio/region_mean",
    "clip/frac_low": "clip_ratio/low_mean",
    "clip/frac_high": "clip_ratio/high_mean",
    "entropy": "entropy",
    "entropy/token": "entropy",
    "reward_mean": "reward",
    "reward/mean": "reward",
})


def metric_name_map(style: str) -> dict[str, str]:
    """The renaming ``{native name: framework name}`` of ``style`` (``native``, ``verl``, ``trl``;
    an unknown style's error lists the choices)."""
    return dict(METRIC_STYLES.get(style))


def rename_metrics(metrics, style: str):
    """``metrics`` (a pandas DataFrame: its columns; or a dict: its keys) with the names of
    ``style``; names without a counterpart are kept. Returns a new object."""
    mapping = metric_name_map(style)
    if isinstance(metrics, dict):
        return {mapping.get(k, k): v for k, v in metrics.items()}
    return metrics.rename(columns=mapping)
