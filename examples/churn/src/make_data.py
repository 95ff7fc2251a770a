"""Generate a synthetic churn dataset and a drifted live batch, deterministically.

usage: python src/make_data.py --seed 7 --rows 6000 --live-shift 0.3 --age-bias 0.1
writes data/customers.parquet and data/live/batch-1.parquet

``age_band`` is the sensitive attribute the ``fairness`` stage measures: customers
under 40 churn a little more (``--age-bias``, on the log-odds scale), a real and
mild disparity the model learns; a large bias (``-p age_bias=1.5``) makes the
model fail the four-fifths rule.
"""

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENTS = ["card", "bank-transfer", "electronic-check", "mailed-check"]
REGIONS = ["north", "south", "east", "west"]
AGE_BANDS = ["under-40", "40-plus"]


def customers(rng: np.random.Generator, rows: int, *, shift: float = 0.0, age_bias: float = 0.1) -> pa.Table:
    contract = rng.choice(CONTRACTS, rows, p=[0.55 + shift / 2, 0.25 - shift / 4, 0.20 - shift / 4])
    tenure = rng.gamma(2.0, 12.0, rows).round().clip(0, 72).astype(np.int64)
    monthly = (rng.normal(65 + 25 * shift, 20, rows)).clip(18, 120).round(2)
    calls = rng.poisson(1.5 + 2.0 * shift, rows).astype(np.int64)
    senior = rng.random(rows) < 0.16
    payment = rng.choice(PAYMENTS, rows)
    region = rng.choice(REGIONS, rows)
    age_band = rng.choice(AGE_BANDS, rows, p=[0.45, 0.55])
    logit = (
        -1.2
        + 1.0 * (contract == "month-to-month")
        - 0.9 * (contract == "two-year")
        - 0.045 * tenure
        + 0.018 * (monthly - 65)
        + 0.35 * calls
        + 0.4 * senior
        + 0.3 * (payment == "electronic-check")
        # concept drift in the live batch: a competitor's offer in the south
        + 8.0 * shift * (region == "south")
        - 3.0 * shift * (region == "north")
        + age_bias * (age_band == "under-40")
    )
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pa.table({
        "customer_id": np.arange(rows, dtype=np.int64),
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": (monthly * np.maximum(tenure, 1)).round(2),
        "support_calls": calls,
        "senior": senior,
        "contract": contract,
        "payment_method": payment,
        "region": region,
        "age_band": age_band,
        "churned": churned,
    })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--live-shift", type=float, default=0.3)
    parser.add_argument("--age-bias", type=float, default=0.1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    Path("data/live").mkdir(parents=True, exist_ok=True)
    pq.write_table(customers(rng, args.rows, age_bias=args.age_bias), "data/customers.parquet")
    pq.write_table(customers(rng, args.rows // 2, shift=args.live_shift, age_bias=args.age_bias),
                   "data/live/batch-1.parquet")


if __name__ == "__main__":
    main()
