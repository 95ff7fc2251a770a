"""The team's own feature code, called by lockgate (`call: src.features:...`)."""

import polars as pl


def _features(table: pl.DataFrame, min_tenure: int) -> pl.DataFrame:
    tenure = pl.col("tenure_months").clip(lower_bound=min_tenure)
    return table.with_columns(
        charges_per_tenure=pl.col("total_charges") / tenure,
        calls_per_year=pl.col("support_calls") * 12 / tenure,
    ).drop("customer_id")


def build(train: pl.DataFrame, test: pl.DataFrame, live: pl.DataFrame, *, min_tenure: int):
    """Add ratio features to every table the same way; split the labelled live batch
    into rows a retrain may learn from and rows kept to judge champion and challenger."""
    train, test, live = (_features(t, min_tenure) for t in (train, test, live))
    even = pl.int_range(pl.len()) % 2 == 0
    return train, test, live, live.filter(even), live.filter(~even)


def combine(train: pl.DataFrame, live: pl.DataFrame) -> pl.DataFrame:
    """Training data for a retrain: what we had, plus the labelled live rows."""
    return pl.concat([train, live], how="vertical_relaxed")
