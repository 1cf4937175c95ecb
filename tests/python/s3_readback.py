"""Read a published version back from S3 with pyarrow and compare it with a local copy.

Usage: s3_readback.py S3-VERSION-PATH LOCAL-VERSION-DIR
  S3-VERSION-PATH is bucket/prefix/dataset/version. The endpoint and keys come
  from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.

Checks, through pyarrow.fs.S3FileSystem (endpoint override): the same set of
files; every file byte for byte; every Parquet table equal when read with
pyarrow.parquet. Prints one line per problem and exits 1 if there is any.
Run by tests/e2e/s3_test.go after it exports the demo to MinIO.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs
import pyarrow.parquet as pq


def main(remote: str, local: Path) -> int:
    ep = urlparse(os.environ["AWS_ENDPOINT_URL"])
    fs = pafs.S3FileSystem(
        endpoint_override=ep.netloc,
        scheme=ep.scheme,
        access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
        secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        region=os.environ.get("AWS_REGION", "us-east-1"),
        allow_bucket_creation=False,
    )
    infos = fs.get_file_info(pafs.FileSelector(remote, recursive=True))
    remote_files = sorted(i.path[len(remote) + 1:] for i in infos if i.type == pafs.FileType.File)
    local_files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    problems = []
    if remote_files != local_files:
        problems.append(f"file sets differ: only in S3 {sorted(set(remote_files) - set(local_files))}, "
                        f"only local {sorted(set(local_files) - set(remote_files))}")
    tables = 0
    for rel in sorted(set(remote_files) & set(local_files)):
        with fs.open_input_stream(f"{remote}/{rel}") as f:
            data = f.read()
        want = (local / rel).read_bytes()
        if data != want:
            problems.append(f"{rel}: {len(data)} bytes from S3, {len(want)} local, contents differ")
        if rel.endswith(".parquet"):
            if not pq.read_table(f"{remote}/{rel}", filesystem=fs).equals(pq.read_table(local / rel)):
                problems.append(f"{rel}: pyarrow tables differ")
            tables += 1
    for p in problems:
        print(p)
    if not problems:
        print(f"ok: {len(local_files)} files equal byte for byte, {tables} parquet files equal as tables")
    return 1 if problems or not local_files else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1].strip("/"), Path(sys.argv[2])))
