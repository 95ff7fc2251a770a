"""lockgate.reports.artifact, pure: a table's head as text at a given width, and
one value inside a metrics artifact (`show scores.roc_auc`)."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pytest

from lockgate.errors import UsageError
from lockgate.reports.artifact import describe_key, table_text

NAMES = [f"customer_feature_number_{i:02d}" for i in range(27)]


def test_a_narrow_table_is_drawn_side_by_side():
    table = pa.table({"id": [1, 22], "city": ["oslo", "lima"], "score": [0.5, 0.123456789]})
    text, transposed = table_text(table, width=80)
    assert not transposed
    assert text.splitlines() == [
        "   id  city     score",
        "   --  ----  --------",
        "0   1  oslo       0.5",
        "1  22  lima  0.123457",
    ]


def test_a_wide_table_is_transposed_and_every_name_stays_whole():
    table = pa.table({name: [i * 1.5, None, 7] for i, name in enumerate(NAMES)})
    text, transposed = table_text(table, width=80)
    assert transposed
    lines = text.splitlines()
    assert lines[0].split() == ["column", "type", "0", "1", "2"]
    for name, line in zip(NAMES, lines[2:]):
        assert line.split()[:2] == [name, "double"]
    assert lines[2 + 26].split() == [NAMES[26], "double", "39.0", "null", "7.0"]
    assert max(map(len, lines)) <= 80


def test_rows_that_do_not_fit_are_left_out_whole_and_said():
    table = pa.table({name: [f"value-{r}-" + "x" * 10 for r in range(8)] for name in NAMES[:3]})
    text, transposed = table_text(table, width=80)
    assert transposed
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "value-1-xxxxxxxxxx" in text and "value-2-" not in text
    assert text.endswith("(6 more rows do not fit in 80 columns; --json shows all)")


def test_only_a_value_longer_than_a_line_is_shortened():
    table = pa.table({"text": ["y" * 200]})
    text, _ = table_text(table, width=50)
    assert "y" * 30 in text and "y" * 50 not in text and text.rstrip().endswith("...")


FOUND = SimpleNamespace(name="scores", pipeline="p", stage="evaluate")
REF = SimpleNamespace(kind="metrics", digest="d" * 64)
SCORES = {"roc_auc": {"test": 0.93, "train": 0.99}, "f1": 0.8, "folds": [{"auc": 0.7}, {"auc": 0.8}]}


@pytest.mark.parametrize(("key", "value", "text"), [
    ("f1", 0.8, "0.8"),
    ("roc_auc.test", 0.93, "0.93"),
    ("roc_auc", {"test": 0.93, "train": 0.99}, '{\n  "test": 0.93,\n  "train": 0.99\n}'),
    ("folds.1.auc", 0.8, "0.8"),
])
def test_a_value_at_any_depth(key: str, value, text: str):
    shown = describe_key(FOUND, REF, SCORES, key)
    assert shown["text"] == text
    assert shown["json"]["artifact"] == "scores" and shown["json"]["key"] == key
    assert shown["json"]["value"] == value


@pytest.mark.parametrize(("key", "message"), [
    ("roc_auc.tset", "'scores.roc_auc' has no key 'tset'; it has (closest first): "
                     "scores.roc_auc.test, scores.roc_auc.train, "),
    ("f2", "'scores' has no key 'f2'; it has (closest first): scores.f1, "),
    ("f1.x", "'scores.f1' is 0.8, not a mapping with a key 'x'"),
    ("folds.5", "'scores.folds' is a list of 2 items; name one by its index, 0 to 1"),
])
def test_a_missing_key_says_what_exists(key: str, message: str):
    with pytest.raises(UsageError) as caught:
        describe_key(FOUND, REF, SCORES, key)
    assert str(caught.value).startswith(message), str(caught.value)
