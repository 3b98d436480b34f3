"""Tabular worlds with exact quantities: bandits, contextual bandits, token trees, MDPs,
multi-prompt bandits and multi-prompt token trees.

A policy is a logits tensor ``[B, S, K]`` (seeds × states × actions); every problem gives the
exact entropy, expected reward J and its gradient, action values, pass@k, and sampling with a
passed-in ``torch.Generator`` (see :class:`TabularProblem`). Presets: :func:`get_problem`.
"""

from entropy_lab.problems.bandit import Bandit, ContextualBandit
from entropy_lab.problems.base import (
    Rollout,
    TabularProblem,
    TokenSampler,
    draw_tokens,
    sample_categorical,
)
from entropy_lab.problems.mdp import TabularMDP
from entropy_lab.problems.presets import PROBLEMS, describe, get_problem, problem_names
from entropy_lab.problems.prompt_tree import PromptTree
from entropy_lab.problems.prompts import PromptBandit, entropy_ceiling
from entropy_lab.problems.tree import TokenTree, all_sequences, leaf_index

__all__ = [
    "PROBLEMS",
    "Bandit",
    "ContextualBandit",
    "PromptBandit",
    "PromptTree",
    "Rollout",
    "TokenSampler",
    "draw_tokens",
    "TabularMDP",
    "TabularProblem",
    "TokenTree",
    "all_sequences",
    "describe",
    "entropy_ceiling",
    "get_problem",
    "leaf_index",
    "problem_names",
    "sample_categorical",
]
