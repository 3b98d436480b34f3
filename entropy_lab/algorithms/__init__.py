"""Every policy-gradient ingredient, written once in torch and shared by the simulator and the
harness: advantages, REPO shaping, policy losses, aggregation, controllers, presets.

Token tensors are ``[..., B, T]``; leading dims are independent replicas (the simulator batches
seeds there). Losses return ``(loss [...], metrics)``; see :mod:`.losses_common` for the metric
keys and :mod:`.recipe` for how an :class:`Algorithm` runs one iteration.
"""

from entropy_lab.algorithms.advantages import (
    ADVANTAGES,
    advantage_names,
    broadcast_advantages,
    dr_grpo,
    get_advantage,
    grpo,
    reinforce,
    rloo,
)
from entropy_lab.algorithms.aggregation import AGGREGATIONS, aggregate, aggregation_names
from entropy_lab.algorithms.controllers import (
    CONTROLLERS,
    Controller,
    EntropyCoefController,
    EpsHighController,
    ZetaController,
    controller_names,
    get_controller,
)
from entropy_lab.algorithms.corrections import icepop, tis
from entropy_lab.algorithms.losses_clip import cispo, gspo, ppo
from entropy_lab.algorithms.losses_common import LOSSES, get_loss, loss_names, register_loss
from entropy_lab.algorithms.losses_cov import clip_cov, kl_cov, token_covariance
from entropy_lab.algorithms.losses_entropy import adaptive_entropy, entropy_bonus, token_entropy
from entropy_lab.algorithms.losses_pg import pg
from entropy_lab.algorithms.presets import (
    PRESETS,
    apply_overrides,
    get_preset,
    preset_names,
    register_preset,
)
from entropy_lab.algorithms.recipe import Algorithm, AlgoState, hp_keys
from entropy_lab.algorithms.shaping import (
    SHAPINGS,
    get_shaping,
    repo,
    repo_d,
    repo_r,
    shaping_names,
)

__all__ = [
    "ADVANTAGES",
    "AGGREGATIONS",
    "CONTROLLERS",
    "LOSSES",
    "PRESETS",
    "SHAPINGS",
    "AlgoState",
    "Algorithm",
    "Controller",
    "EntropyCoefController",
    "EpsHighController",
    "ZetaController",
    "adaptive_entropy",
    "advantage_names",
    "aggregate",
    "aggregation_names",
    "broadcast_advantages",
    "cispo",
    "clip_cov",
    "controller_names",
    "dr_grpo",
    "entropy_bonus",
    "get_advantage",
    "get_controller",
    "get_loss",
    "apply_overrides",
    "get_preset",
    "get_shaping",
    "grpo",
    "gspo",
    "hp_keys",
    "icepop",
    "kl_cov",
    "loss_names",
    "pg",
    "ppo",
    "preset_names",
    "register_loss",
    "register_preset",
    "reinforce",
    "repo",
    "repo_d",
    "repo_r",
    "rloo",
    "shaping_names",
    "tis",
    "token_covariance",
    "token_entropy",
]
