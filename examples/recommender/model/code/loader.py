"""Read embedding vectors from CSV files (plain or gzipped): one row per id, then the vector's components."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

from type_aliases import Vector


def load_vectors_csv(directory: Path, id_column: str) -> dict[str, Vector]:
    """Every ``*.csv`` / ``*.gz`` file in ``directory`` -> {id: vector}."""
    vectors: dict[str, Vector] = {}
    files = sorted(p for p in Path(directory).iterdir() if p.suffix in (".csv", ".gz"))
    if not files:
        raise FileNotFoundError(f"no vector files (*.csv, *.gz) in {directory}")
    for path in files:
        raw = path.read_bytes()
        text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
        for row in csv.DictReader(io.StringIO(text)):
            key = row.pop(id_column)
            vectors[key] = [float(value) for value in row.values()]
    return vectors
