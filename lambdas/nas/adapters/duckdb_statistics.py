"""R-STATS read counts in local mode and tests: DuckDB over the same Parquet layout Athena reads
(the files of the day's live partition and of the late partitions after it, listed as the DuckDB
search engine lists them), grouped by LEA, hour and source type. Never shipped to Lambda."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from nas.adapters.duckdb_search import SCAN_TIME, DuckDbSearchEngine
from nas.adapters.statistics import day_bounds
from nas.domain.layout import Partition, buckets_of, day_ranges
from nas.domain.statistics import ReadCount

COUNT_SQL = (
    "SELECT lea, hour(captured_at) AS hour, source, count(*) AS reads FROM reads"
    " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
)


class DuckDbReadCounts:
    def __init__(self, engine: DuckDbSearchEngine) -> None:
        self._engine = engine

    def reads_of_day(self, day: date, today: date) -> list[ReadCount]:
        partitions = [
            Partition(days.arrival, each, bucket)
            for days in day_ranges(day, day, max(day, today))
            for each in days.days()
            for bucket in range(buckets_of(days.arrival))
        ]
        start, end = day_bounds(day)
        window = (pc.field("captured_at") >= pa.scalar(start, SCAN_TIME)) & (
            pc.field("captured_at") < pa.scalar(end, SCAN_TIME)
        )
        rows = self._engine.dataset(self._engine.files(partitions)).to_table(
            columns=["lea", "captured_at", "source"], filter=window
        )
        connection = duckdb.connect(config={"threads": 2})
        try:
            connection.execute("SET TimeZone = 'UTC'")
            connection.register("reads", rows)
            found = connection.execute(COUNT_SQL).fetchall()
        finally:
            connection.close()
        return [ReadCount(str(lea), int(hour), str(source), int(n)) for lea, hour, source, n in found]
