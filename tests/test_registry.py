import pytest

from entropy_lab.registry import Registry, UnknownNameError


def test_register_get_and_names():
    reg = Registry("widget")
    reg.register("b", 2)

    @reg.register("a")
    def a():
        return 1

    assert reg.get("a") is a and reg.get("b") == 2
    assert reg.names() == ["a", "b"] and "a" in reg and len(reg) == 2


def test_unknown_name_lists_choices():
    reg = Registry("loss")
    reg.register("pg", 1)
    reg.register("ppo", 2)
    with pytest.raises(UnknownNameError, match=r"unknown loss 'ppx'; choose one of: 'pg', 'ppo'"):
        reg.get("ppx")
    with pytest.raises(ValueError):  # also a ValueError for callers catching bad input
        reg.get("ppx")


def test_duplicate_and_bad_names_rejected():
    reg = Registry("loss")
    reg.register("pg", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("pg", 3)
    with pytest.raises(ValueError, match="non-empty string"):
        reg.register("", 3)
