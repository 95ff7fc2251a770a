"""`lockgate metrics show` text: a header row, and nested values under dotted names."""

from __future__ import annotations

from lockgate.reports.diff import metrics_show_text


def test_a_header_row_then_one_line_per_metric_with_dotted_names():
    text = metrics_show_text({
        "churn": {
            "evaluate": {"metrics.json": {"roc_auc": {"test": 0.93, "train": 0.99}}},
            "score": {"scores": {"f1": 0.8123456}},
        },
    })
    lines = [line.split() for line in text.splitlines()]
    assert lines == [
        ["pipeline", "stage", "metric", "value"],
        ["churn", "evaluate", "metrics.json.roc_auc.test", "0.93"],
        ["churn", "evaluate", "metrics.json.roc_auc.train", "0.99"],
        ["churn", "score", "scores.f1", "0.8123"],
    ]
    header, first = text.splitlines()[:2]
    assert header.index("value") == first.index("0.93")  # the columns line up under the header


def test_no_metrics_says_so_without_a_header():
    assert metrics_show_text({}).startswith("no metrics recorded")
