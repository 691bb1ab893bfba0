"""Read the vector tables of the model artifact (every CSV file of a directory, gzipped or not)."""

from pathlib import Path

import pandas as pd


def load_vectors_csv(directory: Path, id_column: str) -> pd.DataFrame:
    """One row per id (the index, as strings), one column per vector component."""
    files = sorted(path for path in Path(directory).iterdir() if path.is_file())
    if not files:
        raise FileNotFoundError(f"no vector files in {directory}")
    frames = [pd.read_csv(path, dtype={id_column: str}) for path in files]
    return pd.concat(frames).set_index(id_column).astype(float)
