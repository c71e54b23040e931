"""Read citybrain's Parquet open-data downloads with pyarrow and compare them with the CSV.

Usage: python parquet_check.py http://127.0.0.1:PORT

For every open dataset with a Parquet download, the file must open in pyarrow, have the
CSV's columns in the CSV's order and, row by row, the CSV's values (numbers equal,
empty CSV cells null). Live datasets may change between the two downloads (a state tick),
so a dataset that differs is fetched again, up to three times. Exit 1 on a difference
that persists.
"""

import csv
import io
import os
import sys
import urllib.request

import pyarrow.parquet as pq

DATASETS = ["road-state", "signal-plans", "aggregates", "transparency", "incidents"]


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def same(cell, value):
    if value is None:
        return cell == ""
    if isinstance(value, float):
        return cell != "" and float(cell) == value
    if isinstance(value, int):
        return cell != "" and int(cell) == value
    # Text: the CSV may quote it or guard a leading =, +, - or @ against spreadsheets.
    return cell == value or cell == "'" + value


def compare(base, name, q):
    """None when the downloads agree (and the row count), else the first difference."""
    rows = list(csv.reader(io.StringIO(get(f"{base}/api/v1/open/{name}.csv{q}").decode())))
    table = pq.read_table(io.BytesIO(get(f"{base}/api/v1/open/{name}.parquet{q}")))
    header, body = rows[0], rows[1:]
    if table.column_names != header:
        return f"parquet columns {table.column_names} != csv {header}", 0
    if table.num_rows != len(body):
        return f"{table.num_rows} parquet rows, {len(body)} csv rows", 0
    cols = table.to_pydict()
    for i, row in enumerate(body):
        for k, col in enumerate(header):
            if not same(row[k], cols[col][i]):
                return f"row {i} {col}: csv {row[k]!r}, parquet {cols[col][i]!r}", 0
    return None, table.num_rows


def main(base):
    total = 0
    for name in DATASETS:
        q = "?scope=city&resolution=60" if name == "aggregates" else ""
        for attempt in range(3):
            diff, n = compare(base, name, q)
            if diff is None:
                break
            print(f"{name}: {diff} (attempt {attempt + 1}; live data may have moved)")
        if diff is not None:
            sys.exit(f"FAIL {name}: {diff}")
        print(f"{name}.parquet: {n} rows, equal to the CSV")
        total += n
    if total == 0:
        sys.exit("FAIL: every dataset is empty")
    print("parquet check passed", flush=True)
    # pyarrow 26 can abort in its C++ thread pools' teardown at interpreter exit
    # ("terminate called without an active exception", exit 134) after a passed check
    # (seen on a fresh install, 2026-12-06); leave without that teardown.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
