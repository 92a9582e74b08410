"""Row hashes and the content hash of a table read in batches, one algorithm for every component.

Ingest hashes rows to assign splits and fingerprint its source; predict fingerprints the
batch it scored with the same function, so the ``input_content_hash`` of a predictions
artifact equals the ``content_hash`` ingest records for the same source.

Pure Python at import time; numpy and pandas are imported inside functions.
"""
from __future__ import annotations

import hashlib
from typing import List, Optional


def to_hashable_frame(batch):
    """A pandas view of a record batch whose dtypes do not depend on the batch's content.

    Plain ``to_pandas`` turns an integer column into float64 in a batch that happens to
    hold a null and into int64 in one that does not, which would change row hashes with the
    batch boundaries; nullable extension dtypes keep one representation.
    """
    import pandas as pd
    import pyarrow as pa

    def mapper(arrow_type):
        if pa.types.is_integer(arrow_type):
            return pd.Int64Dtype()
        if pa.types.is_boolean(arrow_type):
            return pd.BooleanDtype()
        return None

    return batch.to_pandas(types_mapper=mapper)


def row_hashes(frame, columns: Optional[List[str]] = None):
    """A stable 64-bit hash per row (pandas' fixed-key SipHash), of ``columns`` or every column.

    ``frame`` comes from :func:`to_hashable_frame`, so the hash of a row depends on its
    values alone: not on the file, the batch or the row's position.
    """
    import pandas as pd

    part = frame if columns is None else frame[columns]
    return pd.util.hash_pandas_object(part, index=False).to_numpy()


class ContentHash:
    """An order-independent fingerprint of the rows and the column names and types."""

    def __init__(self):
        self.rows = 0
        self.sum = 0
        self.xor = 0

    def add(self, hashes) -> None:
        """Adds the :func:`row_hashes` of some rows."""
        import numpy as np

        self.rows += len(hashes)
        # uint64 arithmetic wraps, which is what a sum modulo 2**64 wants.
        with np.errstate(over="ignore"):
            self.sum = (self.sum + int(hashes.sum(dtype=np.uint64))) % (1 << 64)
        self.xor ^= int(np.bitwise_xor.reduce(hashes)) if len(hashes) else 0

    def add_batch(self, batch) -> None:
        """Adds every row of a ``pyarrow.RecordBatch``."""
        self.add(row_hashes(to_hashable_frame(batch)))

    def hexdigest(self, schema) -> str:
        """sha256 of the column names and types (``schema``, a pyarrow schema) and the rows."""
        text = "|".join(f"{f.name}:{f.type}" for f in schema)
        payload = f"{text}\n{self.rows}\n{self.sum}\n{self.xor}".encode()
        return hashlib.sha256(payload).hexdigest()
