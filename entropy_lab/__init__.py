"""entropy_lab — exact, checkable entropy dynamics of policy-gradient RL for language models.

Subpackages (DESIGN.md): ``theory`` (exact entropy math), ``algorithms`` (advantages, shaping,
losses, controllers, presets), ``problems`` (tabular worlds), ``precision`` (where rounding
happens), ``sim`` (tabular RL loop), ``harness`` (transformer + LoRA), ``analysis``
(metrics, plots).
"""

from entropy_lab import theory
from entropy_lab.analysis import pass_at_k

__version__ = "0.1.0"

__all__ = ["pass_at_k", "theory"]
