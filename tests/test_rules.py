"""Casting rules: parsing, presets, range-checked integers, lossless floats."""

from __future__ import annotations

import numpy as np
import pytest

from skprune_cli.errors import UsageError
from skprune_cli.rules import CastRule, plan_cast, round_trips, rule_table


def test_parse_and_reject():
    rule = CastRule.parse("float64=float16")
    assert (rule.source, rule.target) == (np.dtype("float64"), np.dtype("float16"))
    for bad in ("float64", "float16=float64", "float64=int8", "bogus=float32", "object=float32"):
        with pytest.raises(UsageError):
            CastRule.parse(bad)


def test_explicit_rules_override_the_preset():
    table = rule_table("float32", [CastRule.parse("float64=float16")])
    assert table[np.dtype("float64")] == np.dtype("float16")
    with pytest.raises(UsageError):
        rule_table("tiny")


def test_lossless_floats_are_always_taken():
    counts = np.array([0.0, 1.0, 2.0, 1024.0, -3.5])  # exact in float16
    plan = plan_cast(counts, rule_table("exact"))
    assert plan.target == np.dtype("float16") and plan.exact
    third = np.array([1 / 3])
    assert plan_cast(third, rule_table("exact")).target is None
    plan = plan_cast(third, rule_table("float32"))
    assert plan.target == np.dtype("float32") and not plan.exact


def test_nan_and_inf_round_trip():
    values = np.array([np.nan, np.inf, -np.inf, 0.5])
    assert round_trips(values, np.dtype("float16"))


def test_float16_overflow_falls_back_to_float32():
    values = np.array([1e6, 0.1])
    plan = plan_cast(values, rule_table("float16"))
    assert plan.target == np.dtype("float32")
    assert "exceed the float16 range" in plan.reason


def test_integer_downcast_only_when_every_value_fits():
    table = rule_table("exact", [CastRule.parse("int64=int8")])
    assert plan_cast(np.array([0, 100, -100]), table).target == np.dtype("int8")
    # values need int16: the narrowest type at or above the asked one that fits
    assert plan_cast(np.array([0, 1000]), table).target == np.dtype("int16")
    big = np.array([0, 2**40])
    plan = plan_cast(big, table)
    assert plan.target is None and "do not fit" in plan.reason
    assert plan_cast(np.array([1, 2]), rule_table("float16")).target is None  # no int rule in presets


def test_chunked_check_sees_a_late_mismatch():
    values = np.zeros(3_000_000)
    values[-1] = 1 / 3
    assert not round_trips(values, np.dtype("float32"))
    assert round_trips(values[:-1], np.dtype("float16"))
