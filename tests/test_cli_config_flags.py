"""The sim, sweep and harness flags are generated from SimConfig / HarnessConfig: every field is
documented, has a flag, and the help shows its default and, where the config accepts only some
values, exactly those values."""

import dataclasses
import re

import pytest

from entropy_lab.commands._config_args import add_config_arguments, config_overrides, field_docs
from entropy_lab.harness.config import HarnessConfig
from entropy_lab.sim.config import SimConfig
from entropy_lab.sim.sweep import Cell, RunGroup


@pytest.mark.parametrize("cls", [SimConfig, HarnessConfig, Cell, RunGroup])
def test_every_config_field_has_a_docstring(cls):
    docs = field_docs(cls)
    missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
    assert missing == []


def _parser(command):
    """The subcommand's parser as ``entropy-lab`` builds it (its formatter included)."""
    from entropy_lab.cli import build_parser

    sub = next(a for a in build_parser([command])._actions if a.dest == "command")
    return sub.choices[command]


COMMANDS = [("sim", SimConfig, ()), ("sweep", SimConfig, ()),
            ("harness", HarnessConfig, ("algo_overrides",))]


@pytest.mark.parametrize("command,cls,skip", COMMANDS)
def test_help_lists_every_field_with_its_docstring_and_default(command, cls, skip):
    p = _parser(command)
    actions = {a.dest: a for a in p._actions}
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        action = actions[f.name]
        assert "--" + f.name.replace("_", "-") in action.option_strings
        assert action.help.startswith(docs[f.name]) and "default: " in action.help, f.name
    help_text = p.format_help()  # renders (a stray % in a docstring would raise here)
    assert "--lr" in help_text and "default: " in help_text


def test_harness_help_shows_both_presets_and_old_spellings():
    actions = {a.dest: a for a in _parser("harness")._actions}
    rank_help = actions["lora_rank"].help
    assert "default: 8" in rank_help and "gpu preset: 16" in rank_help
    assert "--model" in actions["model_path"].option_strings
    assert "--prompts" in actions["prompts_per_step"].option_strings


def test_generated_flags_parse_to_overrides():
    import argparse

    p = argparse.ArgumentParser()
    add_config_arguments(p, SimConfig)
    args = p.parse_args(["--steps", "5", "--lr", "0.05", "--optimizer", "adam",
                         "--switch-task-at", "3"])
    assert config_overrides(args, SimConfig) == {"steps": 5, "lr": 0.05, "optimizer": "adam",
                                                 "switch_task_at": 3}
    p = argparse.ArgumentParser()
    add_config_arguments(p, HarnessConfig, skip=("algo_overrides",))
    args = p.parse_args(["--lora-targets", "q_proj", "v_proj", "--lora-rank", "2"])
    assert config_overrides(args, HarnessConfig) == {"lora_targets": ("q_proj", "v_proj"),
                                                     "lora_rank": 2}


def test_undocumented_field_is_refused():
    import argparse

    @dataclasses.dataclass(frozen=True)
    class Bare:
        x: int = 1

    with pytest.raises(TypeError, match="Bare.x has no docstring"):
        add_config_arguments(argparse.ArgumentParser(), Bare)


def _allowed_by_config(cls, name):
    """The values the config's own validation names when a field gets a value nobody allows
    (None: the field takes any string, or its error lists no choices)."""
    from entropy_lab.validation import InputError

    try:
        cls(**{name: "nosuchvalue"})
    except InputError as exc:
        text = str(exc)
    else:
        return None
    if not text.startswith(f"{name}='nosuchvalue' is not allowed: expected one of "):
        return None
    return re.findall(r"'([^']*)'", text.split("expected one of ", 1)[1])


@pytest.mark.parametrize("command,cls,skip", COMMANDS)
def test_help_offers_exactly_the_values_the_config_accepts(command, cls, skip):
    """Probed through __post_init__ (not through the field metadata the flags are built from): a
    field validated against a list of names must offer that list, and only such a field."""
    p = _parser(command)
    actions = {a.dest: a for a in p._actions}
    help_text = " ".join(p.format_help().split())
    with_choices = []
    for f in dataclasses.fields(cls):
        if f.name in skip or "str" not in str(f.type) or "tuple" in str(f.type):
            continue
        allowed, action = _allowed_by_config(cls, f.name), actions[f.name]
        assert action.choices == allowed, f.name
        if allowed is None:
            continue
        with_choices.append(f.name)
        shown = "{" + ",".join(allowed) + "}"
        if action.metavar is None:  # shown in the flag
            assert f"--{f.name.replace('_', '-')} {shown}" in help_text, f.name
        else:  # a registry's long list, written out in the help
            assert "one of: " + ", ".join(allowed) in " ".join(action.help.split()), f.name
    expected = {SimConfig: {"optimizer", "mode", "precision", "policy", "old_logp", "sampling",
                            "geometry", "rng"},
                HarnessConfig: {"task", "algo", "precision", "phase2_task", "sampler_path",
                                "engine", "old_logp"}}
    assert set(with_choices) == expected[cls]


@pytest.mark.parametrize("argv", [["--mode", "exact"], ["--precision", "bf17"],
                                  ["--problem", "bandit/nope"], ["--algo", "grpx"]])
def test_sim_refuses_a_value_outside_the_choices(argv, capsys):
    base = {"--problem": "bandit/calibrated", "--algo": "grpo"}
    base.update(dict([argv]))
    with pytest.raises(SystemExit):
        _parser("sim").parse_args([x for kv in base.items() for x in kv] + argv)
    assert "invalid choice: " + repr(argv[1]) in capsys.readouterr().err


def test_registry_choices_are_the_registries():
    from entropy_lab.algorithms import preset_names
    from entropy_lab.harness.model import PRECISION_MODES
    from entropy_lab.harness.tasks import TASKS
    from entropy_lab.precision import pipeline_names
    from entropy_lab.problems import problem_names

    sim = {a.dest: a for a in _parser("sim")._actions}
    harness = {a.dest: a for a in _parser("harness")._actions}
    assert sim["problem"].choices == problem_names() and sim["algo"].choices == preset_names()
    assert sim["precision"].choices == ["exact", *pipeline_names()]
    assert harness["algo"].choices == preset_names()
    assert harness["task"].choices == harness["phase2_task"].choices == TASKS.names()
    assert harness["precision"].choices == PRECISION_MODES.names()
    assert harness["device"].metavar == "{auto,cpu,cuda,cuda:N}"


@pytest.mark.parametrize("command", ["sim", "sweep", "harness"])
def test_help_wraps_at_spaces_only(command, monkeypatch):
    """No word is split at a hyphen across lines (cpu-tiny, fp32-logprobs, kv-cache)."""
    monkeypatch.setenv("COLUMNS", "60")
    text = _parser(command).format_help()
    assert not re.search(r"\w-\n", text), re.search(r".*\w-\n.*", text).group()
    assert "fp32-logprobs" in text or command != "harness"


def test_sweep_flags_reach_every_cell():
    from entropy_lab.commands._config_args import config_overrides

    args = _parser("sweep").parse_args(["--problem", "bandit/calibrated", "--grid", "lr=0.1,0.3",
                                        "--out", "x.csv", "--steps", "3", "--rng", "per_seed"])
    assert config_overrides(args, SimConfig) == {"steps": 3, "rng": "per_seed"}


@pytest.mark.parametrize("command,cls", [("sim", SimConfig), ("harness", HarnessConfig)])
def test_either_precision_spelling_is_accepted_and_stored_one_way(command, cls):
    """fp32-logprobs reads as fp32_logprobs on the command line and in the config alike."""
    from entropy_lab.commands._config_args import config_overrides

    argv = ["--problem", "bandit/calibrated", "--algo", "grpo"] if command == "sim" else []
    args = _parser(command).parse_args(argv + ["--precision", "fp32-logprobs"])
    assert config_overrides(args, cls)["precision"] == "fp32_logprobs"
    assert cls(precision="fp32-logprobs").precision == "fp32_logprobs"
