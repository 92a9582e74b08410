"""Ingest: read a tabular source into deterministic train / eval / test Parquet splits.

Sources:
  * a local path, ``gs://`` or ``s3://`` URI of CSV (``.csv``, ``.csv.gz``, ``.tsv``) or
    Parquet (``.parquet``, ``.pq``) data: one file, a folder, or a glob in the file name,
    read through the I/O layer (``_shared.io``; a ``/gcs/`` path is read as ``gs://``);
  * a BigQuery table ``bq://project.dataset.table``, or a SQL query (text starting with
    ``SELECT`` or ``WITH``), read through google-cloud-bigquery.

Every row goes to a split chosen by a hash of its key column (``key_column``) or, without a
key, of its whole content, so the same input gives the same split on every run and on every
machine. Data is read and written in record batches: peak memory depends on the batch size,
not on the size of the input; an object in a store is fetched range by range while it is
parsed, never downloaded whole.

No kfp import here; pyarrow, pandas and the BigQuery client are imported inside functions.
"""
from __future__ import annotations

import csv
import dataclasses
import gzip
import io as _io
import logging
import os
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from kfp_mlops.components._shared import checks
from kfp_mlops.components._shared.content_hash import (  # noqa: F401  (ingest's names)
    ContentHash as _ContentHash, row_hashes, to_hashable_frame)
from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components._shared import io

logger = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
FORMATS = ("csv", "parquet")
BQ_PREFIX = "bq://"
_SQL_START = re.compile(r"^\s*(select|with)\b", re.I)
# Bytes at the start of the first CSV file that column types are inferred from.
CSV_INFER_BYTES = 16 << 20
# Bytes of CSV parsed at a time. Small blocks keep pyarrow's reader memory flat (16 MB
# blocks held ~0.6 GB on a 4M-row file, 1 MB blocks ~0.1 GB) at the same speed.
CSV_BLOCK_BYTES = 1 << 20
# Bytes fetched per request from an object store; one range is held at a time.
READ_BLOCK_BYTES = 8 << 20
# A cell larger than a block cannot be parsed ("straddles two block boundaries"): the file is
# read again with blocks this many times larger, up to CSV_MAX_BLOCK_BYTES.
CSV_BLOCK_GROWTH = 16
CSV_MAX_BLOCK_BYTES = 256 << 20
# Delimiters told from a CSV file's first SNIFF_BYTES when csv_delimiter is empty.
SNIFFED_DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 << 10
_STRADDLING = "straddling object straddles two block boundaries"
_HASH_SCALE = float(2 ** 64)


class IngestError(ValueError):
    """The source cannot be ingested; the message names the input and what was expected."""


@dataclasses.dataclass
class IngestResult:
    source: str
    source_kind: str
    output_dir: str
    split_rows: Dict[str, int]
    columns: Dict[str, str]
    content_hash: str
    label_column: str
    key_column: str
    split_ratios: Tuple[float, float, float]
    files: List[str]
    infinite_values: Dict[str, Dict[str, int]] = dataclasses.field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.split_rows.values())

    def metadata(self) -> Dict:
        """What the Dataset artifact carries, and what ``dataset.json`` holds."""
        return {
            "source": self.source,
            "source_kind": self.source_kind,
            "source_files": self.files,
            "splits": dict(self.split_rows),
            "split_names": list(self.split_rows),
            "num_rows": self.total_rows,
            "columns": dict(self.columns),
            "content_hash": self.content_hash,
            "label_column": self.label_column,
            "key_column": self.key_column,
            "split_ratios": list(self.split_ratios),
            "format": "parquet",
            "layout": "<split>/" + ds.SPLIT_FILE,
            ds.INFINITE_KEY: {s: dict(c) for s, c in self.infinite_values.items()},
        }


# --------------------------------------------------------------------------- sources

def is_bigquery(source: str) -> bool:
    return source.startswith(BQ_PREFIX) or bool(_SQL_START.match(source))


def _file_format(uri: str, file_format: str) -> str:
    if file_format:
        if file_format not in FORMATS:
            raise IngestError(f"file_format {file_format!r} is not supported; use one of {FORMATS}")
        return file_format
    lower = uri.lower()
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise IngestError(
        f"{uri!r}: unsupported format; expected CSV ({', '.join(CSV_SUFFIXES)}) or Parquet "
        f"({', '.join(PARQUET_SUFFIXES)}) files, or set file_format")


def _open_arrow(uri: str):
    """A pyarrow input file for a local CSV file or a local or remote Parquet file.

    Local files are read by pyarrow's native reader: with a Python file object every read
    goes through the interpreter, which made parsing a 43 MB CSV 1.6x slower. Objects are
    read through the I/O layer's fsspec file, ``READ_BLOCK_BYTES`` at a time (Parquet reads
    happen only while a batch is asked for, so no read is left in flight; remote CSV goes
    through :class:`_ChunkedCsvReader`).
    """
    import pyarrow as pa

    if not io.is_remote(uri):
        return pa.OSFile(io.strip_file_scheme(uri))
    return pa.PythonFile(io.open_input(uri, block_size=READ_BLOCK_BYTES), mode="r")


def _expand_files(source: str, file_format: str) -> List[str]:
    suffixes = {"csv": CSV_SUFFIXES, "parquet": PARQUET_SUFFIXES}.get(file_format,
                                                                       CSV_SUFFIXES + PARQUET_SUFFIXES)
    try:
        files = io.expand(io.canonical_uri(source), suffixes)
    except FileNotFoundError as e:
        raise IngestError(f"data source {source!r} not found: {e}") from e
    except (OSError, ValueError) as e:  # a refused scheme, a wildcard in a folder, access
        raise IngestError(f"cannot read data source {source!r}: {e}") from e
    return files


def _open_text_lines(uri: str):
    raw = io.open_input(uri)
    stream = gzip.GzipFile(fileobj=raw) if uri.lower().endswith(".gz") else raw
    # utf-8-sig: a byte order mark is not part of the first column's name (pyarrow skips it too)
    return _io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")


def _csv_head(uri: str) -> str:
    """The first complete lines of a CSV file (at most SNIFF_BYTES characters)."""
    with _open_text_lines(uri) as text:
        head = text.read(SNIFF_BYTES)
        more = text.read(1)
    if more and "\n" in head:
        head = head[:head.rindex("\n") + 1]
    return head


def _sniff_delimiter(uri: str, head: str) -> str:
    """The delimiter of a CSV file, told from its header and first lines by ``csv.Sniffer``
    among SNIFFED_DELIMITERS; ``,`` when none of them splits every line alike."""
    try:
        guess = csv.Sniffer().sniff(head, delimiters="".join(SNIFFED_DELIMITERS)).delimiter
    except csv.Error:
        guess = ","
    if guess != ",":
        # The sniffer may pick a character that only happens to recur in the data: keep its
        # choice only when it splits the header in more than one field and every line alike.
        rows = [r for _, r in zip(range(50), csv.reader(_io.StringIO(head), delimiter=guess))
                if r]
        widths = {len(r) for r in rows}
        if len(widths) != 1 or widths.pop() < 2:
            guess = ","
    logger.info("%s: csv_delimiter not given; detected %r from its first lines", uri, guess)
    return guess


def _csv_delimiter(uri: str, delimiter: str, head: Optional[str] = None) -> str:
    if delimiter:
        return delimiter
    if uri.lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    return _sniff_delimiter(uri, _csv_head(uri) if head is None else head)


def _check_column_names(names: Sequence[str], where: str) -> None:
    """Every column has a name, and no name is used twice (TFDV features are keyed by name)."""
    unnamed = [i + 1 for i, n in enumerate(names) if n == ""]
    if unnamed:
        raise IngestError(f"column{'s' if len(unnamed) > 1 else ''} "
                          f"{', '.join(map(str, unnamed))} of {where} {'have' if len(unnamed) > 1 else 'has'} "
                          f"no name; give every column a name in the header")
    positions: Dict[str, List[int]] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, []).append(i + 1)
    repeated = {n: p for n, p in positions.items() if len(p) > 1}
    if repeated:
        parts = [f"{n!r} appears {len(p)} times (columns {', '.join(map(str, p[:-1]))} and {p[-1]})"
                 for n, p in repeated.items()]
        raise IngestError(f"duplicate column names in {where}: {'; '.join(parts)}; "
                          "rename them so that every column has its own name")


def _delimiter_hint(names: Sequence[str]) -> str:
    """``the file looks ';'-delimited; pass csv_delimiter=';'`` when the column names hold
    another delimiter character (a file read with the wrong delimiter)."""
    text = "".join(names)
    counts = {ch: text.count(ch) for ch in SNIFFED_DELIMITERS if ch in text}
    if not counts:
        return ""
    ch = max(counts, key=counts.get)
    return f"; the file looks {ch!r}-delimited; pass csv_delimiter={ch!r}"


def _locate_csv_problem(uri: str, delimiter: str, schema, block_bytes: int = 0) -> str:
    """Finds the first line of a CSV file that pyarrow could not read, for the error message.

    pyarrow's CSV errors name neither the file nor the line; this re-reads the file with the
    standard csv module (only when an error happened) and checks the field count, the cell
    sizes (``block_bytes``: a cell larger than a block) and the numeric columns' values line
    by line.
    """
    import sys

    import pyarrow as pa

    numeric = {}
    if schema is not None:
        for i, field in enumerate(schema):
            if pa.types.is_integer(field.type):
                numeric[i] = int
            elif pa.types.is_floating(field.type):
                numeric[i] = float
    nulls = {"", "NA", "N/A", "NaN", "nan", "NULL", "null", "#N/A", "-NaN", "-nan", "None"}
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)  # a huge cell is what is being looked for
    try:
        with _open_text_lines(uri) as text:
            reader = csv.reader(text, delimiter=delimiter)
            try:
                header = next(reader)
            except StopIteration:
                return "the file is empty"
            for row in reader:
                line = reader.line_num
                if not row:
                    continue
                if len(row) != len(header):
                    return (f"line {line} has {len(row)} fields, expected {len(header)} "
                            f"({delimiter.join(header)!r})")
                if block_bytes:  # pyarrow parses whole lines: one must fit in a block
                    sizes = [len(value.encode("utf-8")) for value in row]
                    if sum(sizes) + len(row) >= block_bytes:
                        big = max(range(len(row)), key=sizes.__getitem__)
                        return (f"line {line} is larger than the largest block read "
                                f"({block_bytes:,} bytes): column {header[big]!r} holds a "
                                f"cell of {sizes[big]:,} bytes; shorten the cell or store the "
                                "data as Parquet")
                for i, kind in numeric.items():
                    value = row[i].strip()
                    if value in nulls:
                        continue
                    try:
                        kind(value)
                    except ValueError:
                        return (f"line {line}, column {header[i]!r}: {value!r} is not "
                                f"{'an integer' if kind is int else 'a number'} like the rows "
                                f"above it (the column's type, {schema.field(i).type}, was "
                                f"inferred from the first {CSV_INFER_BYTES >> 20} MB of the "
                                "source); fix or empty that cell (an empty cell is a missing "
                                "value), or, if the column holds text, write it as a string "
                                "column (e.g. Parquet) so that it is read as text")
    except csv.Error as e:
        return f"line {reader.line_num} cannot be parsed ({e})"
    finally:
        csv.field_size_limit(limit)
    return "the line could not be located"


class _ChunkedCsvReader:
    """pyarrow's CSV parser on whole-line chunks of an object read in this thread.

    pyarrow's streaming CSV reader reads its input in a background thread. On a Python file
    object (an fsspec file) every such read needs the GIL, and a reader dropped while one is
    in flight waits for it holding the GIL: the process hangs (it did on about every other
    ingest from the loopback S3 server, when the type-inference reader was dropped). Here
    the object is read in the calling thread, ``block_bytes`` of text at a time cut after
    the last line break, and each chunk is parsed from memory: one chunk (plus one fetched
    range) is held at a time. Rows must not hold line breaks inside quotes, as for pyarrow's
    reader (``newlines_in_values`` is off).
    """

    def __init__(self, uri: str, delimiter: str, block_bytes: int, column_types):
        from pyarrow import csv as pcsv

        self._raw = io.open_input(uri, block_size=READ_BLOCK_BYTES)
        self._text = (gzip.GzipFile(fileobj=self._raw) if uri.lower().endswith(".gz")
                      else self._raw)
        self._block = block_bytes
        self._rest = b""
        self._parse = pcsv.ParseOptions(delimiter=delimiter)
        self._convert = pcsv.ConvertOptions(strings_can_be_null=True,
                                            column_types=column_types or None)
        try:
            first = self._read(self._next_chunk(), names=None)  # b"": "Empty CSV file"
        except BaseException:
            self._raw.close()
            raise
        self._names = first.column_names
        self.schema = first.schema
        self._first = first.to_batches()

    def _next_chunk(self) -> bytes:
        while True:
            data = self._text.read(self._block)
            if not data:
                chunk, self._rest = self._rest, b""
                return chunk
            data = self._rest + data
            cut = data.rfind(b"\n") + 1
            if cut:
                self._rest = data[cut:]
                return data[:cut]
            self._rest = data  # a line longer than a block: read on

    def _read(self, chunk: bytes, names):
        import pyarrow as pa
        from pyarrow import csv as pcsv

        return pcsv.read_csv(pa.py_buffer(chunk),
                             read_options=pcsv.ReadOptions(column_names=names),
                             parse_options=self._parse, convert_options=self._convert)

    def __iter__(self):
        yield from self._first
        self._first = []
        while True:
            chunk = self._next_chunk()
            if not chunk:
                return
            for batch in self._read(chunk, self._names).to_batches():
                yield batch

    def close(self) -> None:
        self._raw.close()


def _open_csv(uri: str, delimiter: str, block_bytes: int, column_types):
    """``(what to close, record batch reader with .schema)`` of one CSV file."""
    import pyarrow as pa
    from pyarrow import csv as pcsv

    if io.is_remote(uri):
        reader = _ChunkedCsvReader(uri, delimiter, block_bytes, column_types)
        return reader, reader
    raw = _open_arrow(uri)
    stream = pa.CompressedInputStream(raw, "gzip") if uri.lower().endswith(".gz") else raw
    reader = pcsv.open_csv(
        stream, read_options=pcsv.ReadOptions(block_size=block_bytes),
        parse_options=pcsv.ParseOptions(delimiter=delimiter),
        convert_options=pcsv.ConvertOptions(strings_can_be_null=True,
                                            column_types=column_types or None))
    return raw, reader


def _infer_csv_types(uri: str, delimiter: str) -> Dict:
    """Column types inferred from the first CSV_INFER_BYTES of a file (all-null -> string)."""
    import pyarrow as pa

    block = CSV_INFER_BYTES
    while True:
        try:
            raw, reader = _open_csv(uri, delimiter, block, None)
        except pa.ArrowInvalid as e:
            if _STRADDLING in str(e) and block < CSV_MAX_BLOCK_BYTES:
                block *= CSV_BLOCK_GROWTH
                continue
            raise
        try:
            return {f.name: pa.string() if pa.types.is_null(f.type) else f.type
                    for f in reader.schema}
        finally:
            raw.close()


def _iter_csv(uri: str, delimiter: str, column_types) -> Iterator:
    """Record batches of one CSV file; types inferred from its start unless given.

    A cell larger than the block being parsed makes pyarrow fail ("straddles two block
    boundaries"); the file is then read again with larger blocks, skipping the rows already
    yielded, up to CSV_MAX_BLOCK_BYTES.
    """
    import pyarrow as pa

    try:
        head = _csv_head(uri)
    except (OSError, EOFError) as e:  # e.g. a .gz file that is not gzip
        raise IngestError(f"cannot read CSV {uri!r}: {e}") from e
    delimiter = _csv_delimiter(uri, delimiter, head)
    header = next(csv.reader(_io.StringIO(head), delimiter=delimiter), [])
    _check_column_names(header, uri)
    schema = None
    block = CSV_BLOCK_BYTES
    done = 0  # rows yielded
    while True:
        raw = None
        try:
            column_types = column_types or _infer_csv_types(uri, delimiter)
            raw, reader = _open_csv(uri, delimiter, block, column_types)
            schema = reader.schema
            skip = done
            for batch in reader:
                if not done and not skip:
                    _warn_mostly_numeric_text(batch, uri)
                if skip:
                    if batch.num_rows <= skip:
                        skip -= batch.num_rows
                        continue
                    batch, skip = batch.slice(skip), 0
                done += batch.num_rows
                yield batch
            return
        except pa.ArrowInvalid as e:
            if "Empty CSV file" in str(e):
                raise IngestError(f"{uri!r} is empty: expected a header line and data rows") from e
            if _STRADDLING in str(e) and block < CSV_MAX_BLOCK_BYTES:
                block *= CSV_BLOCK_GROWTH
                logger.info("%s: a cell is larger than the CSV block; reading again with "
                            "%d MB blocks from row %d", uri, block >> 20, done)
                continue
            if schema is None and column_types:  # the first block failed: the types asked for
                schema = pa.schema(list(column_types.items()))
            where = _locate_csv_problem(uri, delimiter, schema,
                                        block if _STRADDLING in str(e) else 0)
            raise IngestError(f"cannot read CSV {uri!r}: {where} (pyarrow: {e})") from e
        finally:
            if raw is not None:
                raw.close()


def _warn_mostly_numeric_text(batch, uri: str) -> None:
    """Warns about a text column whose values are nearly all numbers (a numeric column with
    a few stray words, read as categorical): names the first line and value that is not a
    number. The line assumes no quoted newline before it."""
    import pyarrow as pa

    for i, field in enumerate(batch.schema):
        if not pa.types.is_string(field.type):
            continue
        values = batch.column(i).to_pylist()
        present = [(row, v) for row, v in enumerate(values) if v is not None and v.strip()]
        words = []
        for row, v in present:
            try:
                float(v)
            except ValueError:
                words.append((row, v))
                if len(words) * 20 > len(present):
                    break
        if present and words and len(words) * 20 <= len(present):
            row, value = words[0]
            logger.warning(
                "%s: column %r is read as text (categorical) although %d of its first %d "
                "values are numbers: line %d holds %r. If the column is numeric, fix or empty "
                "such cells (an empty cell is a missing value)", uri, field.name,
                len(present) - len(words), len(present), row + 2, value)


def _check_parquet_schema(schema, uri: str) -> None:
    """Flat columns only: TFDV describes nested (list, struct, map) Parquet columns as
    multivalent or struct features that neither the schema nor the model handles here."""
    import pyarrow as pa

    _check_column_names(schema.names, uri)
    for field in schema:
        t = field.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
                or pa.types.is_struct(t) or pa.types.is_map(t) or pa.types.is_union(t)):
            raise IngestError(
                f"column {field.name!r} of {uri!r} has the nested type {field.type}; ingest "
                "reads flat columns (numbers, strings, booleans, dates): flatten it into "
                "columns of their own or drop it")


def _iter_parquet(uri: str, batch_rows: int) -> Iterator:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with _open_arrow(uri) as f:
            parquet = pq.ParquetFile(f)
            _check_parquet_schema(parquet.schema_arrow, uri)
            yield from parquet.iter_batches(batch_size=batch_rows)
    except (pa.ArrowInvalid, OSError) as e:
        raise IngestError(f"cannot read Parquet {uri!r}: {e}") from e


def _iter_bigquery(source: str, project: str, batch_rows: int) -> Iterator:
    """Record batches of a BigQuery table (``bq://p.d.t``) or of a query's result."""
    from google.cloud import bigquery

    client = bigquery.Client(project=project or None)
    if source.startswith(BQ_PREFIX):
        table = source[len(BQ_PREFIX):]
        if table.count(".") != 2 or not all(table.split(".")):
            raise IngestError(f"BigQuery source {source!r}: expected bq://project.dataset.table")
        logger.info("Reading BigQuery table %s", table)
        rows = client.list_rows(table, page_size=batch_rows)
    else:
        logger.info("Running BigQuery query (%d characters)", len(source))
        rows = client.query(source).result(page_size=batch_rows)
    yield from rows.to_arrow_iterable()


def iter_source(source: str, file_format: str = "", batch_rows: int = ds.DEFAULT_BATCH_ROWS,
                bigquery_project: str = "", csv_delimiter: str = "") -> Tuple[str, List[str], Iterator]:
    """Opens a source: returns ``(kind, files, iterator of (file, RecordBatch))``.

    Every file after the first is read with the first file's column types, so one source
    yields one schema (checked by the caller).
    """
    if is_bigquery(source):
        batches = ((source, b) for b in _iter_bigquery(source, bigquery_project, batch_rows))
        return "bigquery", [], batches
    fmt = file_format or ""
    files = _expand_files(source, fmt)
    fmts = {_file_format(f, fmt) for f in files}
    if len(fmts) > 1:
        raise IngestError(f"{source!r} mixes CSV and Parquet files; expected one format")
    kind = fmts.pop()

    def generate():
        column_types = None
        for f in files:
            logger.info("Reading %s", f)
            it = (_iter_csv(f, csv_delimiter, column_types) if kind == "csv"
                  else _iter_parquet(f, batch_rows))
            for batch in it:
                if kind == "csv" and column_types is None:
                    column_types = {field.name: field.type for field in batch.schema}
                yield f, batch

    return kind, files, generate()


# --------------------------------------------------------------------------- splitting

def parse_split_ratios(split_ratios: Sequence[float],
                       needed: Sequence[str] = ("train",)) -> Tuple[float, float, float]:
    """Three finite non-negative shares (train, eval, test) adding up to 1 (within 1e-6).

    Args:
        split_ratios: the shares.
        needed: the splits that must get a share above 0: ingest needs ``train``; a
            pipeline that validates train/eval skew needs ``eval`` too, one that evaluates
            on the test split ``test`` too.
    """
    expected = ("expected three finite non-negative numbers (train, eval, test) that add up "
                "to 1")
    if isinstance(split_ratios, (str, bytes)) or not isinstance(split_ratios, Sequence):
        raise IngestError(f"split_ratios {split_ratios!r}: {expected}")
    if len(split_ratios) != 3 or not all(checks.is_number(r) for r in split_ratios):
        raise IngestError(f"split_ratios {list(split_ratios)!r}: {expected}")
    ratios = tuple(float(r) for r in split_ratios)
    if any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise IngestError(f"split_ratios {list(split_ratios)!r}: {expected}")
    empty = [name for name, r in zip(ds.SPLITS, ratios) if name in needed and r <= 0]
    if empty:
        raise IngestError(f"split_ratios {list(split_ratios)!r}: the {' and '.join(empty)} "
                          f"share{'s' if len(empty) > 1 else ''} must be above 0")
    return ratios  # type: ignore[return-value]


def check_csv_delimiter(csv_delimiter: str) -> str:
    """Empty (tab for ``.tsv``, else detected from each file's first lines) or one character
    that is not a quote, a line break or the NUL character (Arrow's CSV reader takes a
    one-character delimiter and quotes with ``"``)."""
    if not isinstance(csv_delimiter, str) or len(csv_delimiter) > 1 \
            or csv_delimiter in ('"', "'", "\n", "\r", "\0"):
        raise IngestError(f"csv_delimiter {csv_delimiter!r}: expected one character that is "
                          f"not a quote or a line break, such as "
                          f"{', '.join(map(repr, SNIFFED_DELIMITERS))}, or empty to detect it")
    return csv_delimiter


def assign_splits(hashes, ratios: Tuple[float, float, float]):
    """Split index (0 train, 1 eval, 2 test) per row from its hash: the same hash, the same split."""
    import numpy as np

    position = hashes.astype(np.float64) / _HASH_SCALE  # uniform in [0, 1)
    cut_train, cut_eval = ratios[0], ratios[0] + ratios[1]
    return np.where(position < cut_train, 0, np.where(position < cut_eval, 1, 2)).astype(np.int8)


class _SplitWriter:
    """Appends one split's rows to its Parquet file in row groups of ``batch_rows`` rows.

    A CSV block or a source batch lands in three splits, so each split receives pieces far
    smaller than a batch; writing each piece as a row group would grow the file's metadata
    (held in memory until the file closes) with the input. Pieces wait here until a full
    row group is ready: at most ``batch_rows`` rows are held.
    """

    def __init__(self, path: str, schema, batch_rows: int):
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(path, schema, compression="snappy")
        self._rows = batch_rows
        self._pending: List = []
        self._pending_rows = 0

    def add(self, batch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= self._rows:
            self._write(final=False)

    def _write(self, final: bool) -> None:
        import pyarrow as pa

        if not self._pending_rows:
            return
        table = pa.Table.from_batches(self._pending)
        full = self._pending_rows if final else self._pending_rows // self._rows * self._rows
        self._writer.write_table(table.slice(0, full), row_group_size=self._rows)
        rest = table.slice(full)
        self._pending = rest.combine_chunks().to_batches() if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def flush(self) -> None:
        self._write(final=True)

    def close(self) -> None:
        self._writer.close()


def _count_infinite(batch, split_ids, counts: Dict[str, Dict[str, int]]) -> None:
    """Adds the +inf/-inf values of each float column of ``batch`` to its rows' splits."""
    import numpy as np
    import pyarrow as pa

    for i, field in enumerate(batch.schema):
        if not pa.types.is_floating(field.type):
            continue
        bad = np.isinf(batch.column(i).to_numpy(zero_copy_only=False))
        if not bad.any():
            continue
        for index, split in enumerate(ds.SPLITS):
            n = int((bad & (split_ids == index)).sum())
            if n:
                counts[split][field.name] = counts[split].get(field.name, 0) + n


def _check_schema(schema, expected, where: str) -> None:
    if expected is None or schema.names == expected.names:
        return
    missing = [n for n in expected.names if n not in schema.names]
    extra = [n for n in schema.names if n not in expected.names]
    raise IngestError(f"{where}: columns differ from the first file's; missing {missing}, "
                      f"unexpected {extra}; expected {expected.names}")


# --------------------------------------------------------------------------- ingest

def ingest(source: str, output_dir: str, label_column: str = "", key_column: str = "",
           split_ratios: Sequence[float] = (0.8, 0.1, 0.1), file_format: str = "",
           batch_rows: int = ds.DEFAULT_BATCH_ROWS, bigquery_project: str = "",
           csv_delimiter: str = "") -> IngestResult:
    """Reads ``source`` and writes a dataset directory of train / eval / test Parquet splits.

    Args:
      source: local path, gs:// or s3:// URI (file, folder or glob) of CSV or Parquet files,
        ``bq://project.dataset.table``, or a BigQuery SQL query.
      output_dir: the dataset directory to create (must not hold files yet).
      label_column: column the model learns; checked to exist. Empty: no label.
      key_column: column whose value decides a row's split (rows sharing a key stay
        together). Empty: a hash of the row's whole content.
      split_ratios: train, eval and test shares, adding up to 1.
      file_format: ``csv`` or ``parquet``; empty to tell by the file names.
      batch_rows: rows per Parquet batch read and per row group written.
      bigquery_project: project that runs BigQuery jobs (default: the client's).
      csv_delimiter: field separator; empty: tab for ``.tsv``, else told from each file's
        header and first lines (one of ``, ; \\t |``; ``,`` when unclear).

    Returns:
      An IngestResult; its ``metadata()`` is also written to ``<output_dir>/dataset.json``.

    Raises:
      IngestError: the source is missing, empty, unreadable, has unnamed, duplicate or
        nested columns, a value that does not fit its column's type, or lacks a named column.
        Nothing is left at ``output_dir``.
    """
    import pyarrow as pa

    ratios = parse_split_ratios(split_ratios)
    check_csv_delimiter(csv_delimiter)
    if batch_rows <= 0:
        raise IngestError(f"batch_rows must be a positive number of rows, not {batch_rows}")
    kind, files, batches = iter_source(source, file_format, batch_rows, bigquery_project,
                                       csv_delimiter)
    counts = {s: 0 for s in ds.SPLITS}
    fingerprint = _ContentHash()
    schema = None
    writers: Dict[str, _SplitWriter] = {}
    labelled = 0  # rows whose label is present
    infinite: Dict[str, Dict[str, int]] = {s: {} for s in ds.SPLITS}  # split -> column -> n

    with io.output_dir(output_dir) as staging:
        try:
            for where, batch in batches:
                if schema is None:
                    schema = batch.schema
                    for name, role in ((label_column, "label_column"), (key_column, "key_column")):
                        if name and name not in schema.names:
                            hint = _delimiter_hint(schema.names) if kind == "csv" else ""
                            raise IngestError(f"{role} {name!r} not found in {where}; columns "
                                              f"are: {', '.join(schema.names)}{hint}")
                    for split in ds.SPLITS:
                        os.makedirs(os.path.join(staging, split))
                        writers[split] = _SplitWriter(ds.split_path(staging, split), schema,
                                                      batch_rows)
                else:
                    _check_schema(batch.schema, schema, where)
                    if batch.schema != schema:
                        try:
                            batch = pa.RecordBatch.from_arrays(
                                [c.cast(f.type) for c, f in zip(batch.columns, schema)], schema=schema)
                        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                            raise IngestError(f"{where}: column types differ from the first "
                                              f"file's ({schema}): {e}") from e
                if batch.num_rows == 0:
                    continue
                if label_column:
                    label = batch.column(schema.get_field_index(label_column))
                    labelled += batch.num_rows - label.null_count
                frame = to_hashable_frame(batch)
                content = row_hashes(frame)
                fingerprint.add(content)
                keyed = row_hashes(frame, [key_column]) if key_column else content
                split_ids = assign_splits(keyed, ratios)
                _count_infinite(batch, split_ids, infinite)
                for index, split in enumerate(ds.SPLITS):
                    mask = split_ids == index
                    n = int(mask.sum())
                    if n:
                        writers[split].add(batch.filter(pa.array(mask)))
                        counts[split] += n
                total = sum(counts.values())
                if total and total % (batch_rows * 16) < batch.num_rows:
                    logger.info("Ingested %d rows so far", total)
            for writer in writers.values():
                writer.flush()
        finally:
            for writer in writers.values():
                writer.close()
        if schema is None or not sum(counts.values()):
            raise IngestError(f"data source {source!r} holds no rows: expected at least one data "
                              "row after the header")
        if label_column and not labelled:
            raise IngestError(f"label_column {label_column!r} of {source!r} has no values: "
                              "every row is missing it")
        result = IngestResult(
            source=source, source_kind=kind, output_dir=os.path.abspath(output_dir),
            split_rows=counts, columns={f.name: str(f.type) for f in schema},
            content_hash=fingerprint.hexdigest(schema), label_column=label_column,
            key_column=key_column, split_ratios=ratios, files=files, infinite_values=infinite)
        io.write_json(os.path.join(staging, ds.INFO_FILE), result.metadata())
    logger.info("Ingested %d rows from %s: %s", result.total_rows, source,
                ", ".join(f"{k}={v}" for k, v in counts.items()))
    for split, n in counts.items():
        if n == 0:
            logger.warning("The %s split is empty; ratios %s on %d rows", split, ratios,
                           result.total_rows)
    return result
