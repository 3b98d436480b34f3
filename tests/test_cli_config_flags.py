"""The sim and harness flags are generated from SimConfig / HarnessConfig: every field is
documented, has a flag, and the help shows its default."""

import dataclasses

import pytest

from entropy_lab.commands._config_args import add_config_arguments, config_overrides, field_docs
from entropy_lab.harness.config import HarnessConfig
from entropy_lab.sim.config import SimConfig


@pytest.mark.parametrize("cls", [SimConfig, HarnessConfig])
def test_every_config_field_has_a_docstring(cls):
    docs = field_docs(cls)
    missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
    assert missing == []


def _parser(command):
    import argparse
    import importlib

    p = argparse.ArgumentParser()
    importlib.import_module(f"entropy_lab.commands.{command}").add_arguments(p)
    return p


@pytest.mark.parametrize("command,cls,skip", [("sim", SimConfig, ()),
                                              ("harness", HarnessConfig, ("algo_overrides",))])
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
