"""The team's own feature code, called by lockgate (`call: src.features:build`)."""

import polars as pl


def _features(table: pl.DataFrame, min_tenure: int) -> pl.DataFrame:
    return table.with_columns(
        charges_per_tenure=pl.col("total_charges") / pl.col("tenure_months").clip(lower_bound=min_tenure),
        calls_per_year=pl.col("support_calls") * 12 / pl.col("tenure_months").clip(lower_bound=min_tenure),
    ).drop("customer_id")


def build(train: pl.DataFrame, test: pl.DataFrame, *, min_tenure: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add ratio features to both splits the same way."""
    return _features(train, min_tenure), _features(test, min_tenure)
