"""The cost model's arithmetic (`make cost`, infra/cost.py) on small fixed inputs, each line worked
by hand: prices are zero but for the ones a test names, so every other line drops out."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest

from infra.cost import (
    DAYS_PER_MONTH,
    CostModel,
    LineItem,
    Measured,
    Prices,
    Volume,
    images_off_stream,
    layout_vrm_fraction,
    model,
)

MEASURED = Measured(
    read_bytes=1_000,
    row_bytes=500,
    parquet_bytes_per_row=100,
    image_bytes_per_read=1_000_000,
    match_cpu_ms_per_read=1.0,
    archive_cpu_ms_per_read=1.0,
    voi_keys_per_read=1.0,
    vrm_search_bytes_fraction=0.5,
)
# 1,000 reads a day on one shard (800 reads/s at 1 KB fill one shard to 80 %), kept a year.
SMALL = Volume(
    reads_per_day=1_000,
    months_kept=12,
    peak_reads_per_s=800,
    alerts_per_read=0.0,
    searches_per_day=0,
    api_requests_per_day=0,
    image_views_per_day=0,
)


def priced(**named: float) -> Prices:
    """The London table's items, all zero but `named` (`service__item=price`)."""
    table = {service: dict.fromkeys(items, 0.0) for service, items in Prices.load().table.items()}
    for key, price in named.items():
        service, item = key.split("__")
        assert item in table[service], f"no price {service}.{item}"
        table[service][item] = price
    return Prices("2026-12-01", table)


def line(cost: CostModel, name: str) -> float:
    [found] = [i.usd_per_month for i in cost.items if i.name == name]
    return found


def test_one_shard_costs_its_hours_a_month() -> None:
    cost = model(MEASURED, SMALL, priced(kinesis__shard_hour=1.0), tiered=False)
    assert cost.shards == 1
    assert line(cost, "kinesis_shards") == pytest.approx(730)
    assert cost.usd_per_month == pytest.approx(730)


def test_images_held_a_year_in_standard_or_tiered_after_90_days() -> None:
    # 1,000 reads of 1 MB of images a day: 1 GB a day, 365 GB held.
    prices = priced(s3__standard_gb_month=1.0, s3__glacier_instant_retrieval_gb_month=0.1)
    untiered = model(MEASURED, SMALL, prices, tiered=False)
    tiered = model(MEASURED, SMALL, prices, tiered=True)
    assert line(untiered, "s3_images") == pytest.approx(365)
    assert line(tiered, "s3_images") == pytest.approx(90 * 1.0 + 275 * 0.1)
    # Parquet stays in Standard either way: 100 bytes x 1,000 reads x 365 days.
    assert line(untiered, "s3_parquet") == line(tiered, "s3_parquet") == pytest.approx(0.0365)


def test_each_pack_moved_to_the_cold_class_is_a_transition() -> None:
    # About 0.012 reads a second on the shard: every 30 s batch holds one read, so one pack a read.
    cost = model(MEASURED, SMALL, priced(s3__lifecycle_transition_gir_per_thousand=1.0), tiered=True)
    assert line(cost, "s3_images") == pytest.approx(1_000 * DAYS_PER_MONTH / 1_000)


def test_voi_lookups_are_half_a_read_unit_a_key() -> None:
    cost = model(MEASURED, SMALL, priced(dynamodb__read_request_units_per_million=1e6), tiered=False)
    assert line(cost, "dynamodb_voi_lookups") == pytest.approx(1_000 * DAYS_PER_MONTH * 0.5)


def test_a_search_pays_for_its_fraction_of_the_window_and_at_least_10_mb() -> None:
    prices = priced(athena__per_tb_scanned=1e6, athena__minimum_bytes_per_query=10_000_000)
    # 30 days of 100 KB of Parquet a day, half of it read: 1.5 MB, below the 10 MB minimum.
    small = model(MEASURED, replace(SMALL, searches_per_day=1), prices, tiered=False)
    assert line(small, "athena_searches") == pytest.approx(DAYS_PER_MONTH * 10_000_000 / 1e12 * 1e6)
    # At 1,000,000 reads a day the window is 3 GB, of which a search reads 1.5 GB.
    big = model(MEASURED, replace(SMALL, searches_per_day=1, reads_per_day=1_000_000), prices, tiered=False)
    assert line(big, "athena_searches") == pytest.approx(DAYS_PER_MONTH * 1.5e9 / 1e12 * 1e6)


def test_the_headline_is_a_years_cost_over_the_millions_of_reads_taken_in_it() -> None:
    volume = replace(SMALL, reads_per_day=1_000_000)
    cost = CostModel((LineItem("a", 60.0, ""), LineItem("b", 40.0, "")), volume, tiered=False)
    assert cost.usd_per_million_reads_kept_a_year == pytest.approx(100 * 12 / 365)
    assert cost.largest().name == "a"


def test_the_layout_bound_reads_one_bucket_of_each_arrival() -> None:
    assert layout_vrm_fraction(0.0) == pytest.approx(1 / 64)
    assert layout_vrm_fraction(1.0) == pytest.approx(1 / 8)


def test_images_off_the_stream_leave_rows_only() -> None:
    heavy = replace(MEASURED, read_bytes=38_000, row_bytes=800)
    volume = replace(SMALL, peak_reads_per_s=20_000)
    prices = priced(kinesis__shard_hour=1.0)
    assert model(heavy, volume, prices, tiered=False).shards == math.ceil(
        20_000 * 38_000 / (1024 * 1024 * 0.8)
    )
    assert model(images_off_stream(heavy), volume, prices, tiered=False).shards == 25  # by records


def test_the_price_table_is_dated_and_prices_every_line() -> None:
    prices = Prices.load()
    assert date.fromisoformat(prices.as_of)
    cost = model(MEASURED, Volume(), prices, tiered=True)
    assert all(item.usd_per_month > 0 for item in cost.items), [
        i.name for i in cost.items if i.usd_per_month <= 0
    ]
