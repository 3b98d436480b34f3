"""entropy_lab — exact, checkable entropy dynamics of policy-gradient RL for language models.

Subpackages (docs/architecture.md, "Layout"): ``theory`` (exact entropy math), ``algorithms``
(advantages, shaping,
losses, controllers, presets), ``problems`` (tabular worlds), ``precision`` (where rounding
happens), ``sim`` (tabular RL loop), ``harness`` (transformer + LoRA; imported on demand, it needs
the ``harness`` extra), ``analysis`` (metrics, plots).

    import entropy_lab as el
    df = el.simulate("tree/calibrated", "grpo", steps=200, seeds=16)
"""

from entropy_lab import algorithms, analysis, precision, problems, sim, theory
from entropy_lab.algorithms import get_advantage, get_loss, get_preset, preset_names
from entropy_lab.passk import pass_at_k
from entropy_lab.precision import get_pipeline, pipeline_names
from entropy_lab.problems import get_problem, problem_names
from entropy_lab.sim import SimConfig, simulate, sweep

__version__ = "0.1.0"

__all__ = [
    "SimConfig",
    "algorithms",
    "analysis",
    "get_advantage",
    "get_loss",
    "get_pipeline",
    "get_preset",
    "get_problem",
    "pass_at_k",
    "pipeline_names",
    "precision",
    "preset_names",
    "problem_names",
    "problems",
    "sim",
    "simulate",
    "sweep",
    "theory",
]
