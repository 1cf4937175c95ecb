"""Older and other readers open every table: fastparquet and Spark 3.2.

docs/decisions/0028-parquet-writer-profile.md: the files use version 1 data
pages and PLAIN/dictionary/RLE encodings only, and carry the pandas footer
entry, so that fastparquet and the vectorized reader of Spark 3.2 (the Spark
of older managed platforms) read every table with the same UTC instants as
pyarrow. Each reader's instants are compared with pyarrow's, column by column.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import fastparquet
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession


def table_paths(version_dir: Path, table_files: list[dict]) -> list[Path]:
    return [version_dir / f["path"] for f in sorted(table_files, key=lambda f: f["path"])]


def reference(version_dir: Path, table_files: list[dict]) -> pa.Table:
    """The table as pyarrow reads it, files in path order, without the partition column."""
    return pa.concat_tables([pq.read_table(p) for p in table_paths(version_dir, table_files)])


def timestamp_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_timestamp(f.type)]


def epoch_us(values: pa.ChunkedArray | pa.Array) -> list[int | None]:
    return values.cast(pa.timestamp("us", "UTC")).cast(pa.int64()).to_pylist()


# --- fastparquet -----------------------------------------------------------------

def test_fastparquet_reads_table_with_utc_instants(version_dir, table, table_files):
    ref = reference(version_dir, table_files)
    frames = [fastparquet.ParquetFile(str(p)).to_pandas() for p in table_paths(version_dir, table_files)]
    got = pd.concat(frames, ignore_index=True)
    assert len(got) == ref.num_rows, f"{table}: fastparquet read {len(got)} rows, pyarrow {ref.num_rows}"
    assert list(got.columns) == ref.schema.names, f"{table}: fastparquet columns differ"
    for name in timestamp_columns(ref.schema):
        dtype = got[name].dtype
        assert isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC", \
            f"{table}.{name}: fastparquet dtype {dtype}, want datetime64[*, UTC]"
        arr = pa.Array.from_pandas(got[name])
        assert epoch_us(arr) == epoch_us(ref[name]), f"{table}.{name}: fastparquet instants differ from pyarrow's"


def test_fastparquet_reads_partitioned_directory(version_dir, table, table_files):
    paths = [str(p) for p in table_paths(version_dir, table_files)]
    df = fastparquet.ParquetFile(paths, root=str(version_dir / table)).to_pandas()
    assert len(df) == sum(f["rows"] for f in table_files)


# --- Spark 3.2 -------------------------------------------------------------------

# Spark 3.2 on Java 17 needs the JDK's internals opened to it (SPARK-35557).
JAVA17_OPENS = ["java.lang", "java.lang.invoke", "java.lang.reflect", "java.io", "java.net", "java.nio",
                "java.util", "java.util.concurrent", "java.util.concurrent.atomic", "sun.nio.ch",
                "sun.nio.cs", "sun.security.action", "sun.util.calendar"]


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("CI"):
            pytest.fail("Java is missing in CI: the Spark 3.2 reader test needs it (.ci/run installs it)")
        pytest.skip("no Java on this machine: Spark cannot start")
    opens = " ".join(f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in JAVA17_OPENS)
    session = (SparkSession.builder.master("local[1]").appName("opsdata-readers")
               .config("spark.driver.extraJavaOptions", opens)
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "1")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_is_3_2(spark):
    assert spark.version.startswith("3.2."), f"Spark {spark.version}: the test pins the old reader, 3.2"


def test_spark32_reads_table_with_utc_instants(spark, version_dir, table, table_files):
    # The vectorized reader is Spark's default and the one that refuses DELTA_* encodings.
    assert spark.conf.get("spark.sql.parquet.enableVectorizedReader") == "true"
    df = spark.read.parquet(str(version_dir / table))
    ref = ds.dataset(version_dir / table, format="parquet", partitioning="hive").to_table()
    assert df.count() == ref.num_rows
    stamps = [f.name for f in df.schema.fields if f.dataType.typeName() == "timestamp"]
    assert stamps == timestamp_columns(ref.schema), f"{table}: Spark timestamp columns"
    # Every row: the key columns and each timestamp as microseconds since the epoch.
    # Spark reads the whole file (all columns, all pages) to count and collect these.
    assert len(df.collect()) == ref.num_rows
    for name in stamps:
        got = sorted((r[0] for r in df.selectExpr(f"unix_micros(`{name}`)").collect()),
                     key=lambda v: (v is None, v or 0))
        want = sorted(epoch_us(ref[name]), key=lambda v: (v is None, v or 0))
        assert got == want, f"{table}.{name}: Spark 3.2 instants differ from pyarrow's"
