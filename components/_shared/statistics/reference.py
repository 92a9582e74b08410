"""TFDV's own path, the reference: Arrow columns in TFDV's canonical form, statistics options,
TFDV's Beam pipeline and its statistics files.

The in-process builders (:mod:`.builder`) feed :func:`canonicalize_batch`'s batches to each
TFDV generator's ``add_input`` whenever the flat path (:mod:`.flat`) does not apply; the
byte-identity tests compare the flat path with exactly this.
"""
from __future__ import annotations

import copy
from typing import Dict, List, Mapping, Optional, Sequence

# --- dates and timestamps -----------------------------------------------------------------
#
# TFDV has no date type. A date or timestamp column is described as what it is on a clock:
# an INT feature counting days (``date32``/``date64`` columns) or whole seconds (``timestamp``
# columns of any unit; a time zone's instant is counted in UTC, a zone-less timestamp as if
# it were UTC) since 1970-01-01, the ``integer_format`` of tensorflow_metadata's
# ``TimeDomain`` (schema.proto: ``UNIX_DAYS``, ``UNIX_SECONDS``), which the schema records on
# the feature (:func:`mark_time_domains`). This is the one place the conversion happens:
# every statistics path (flat, reference, Beam) goes through :func:`canonical_array`, so the
# statistics, the schema, skew and drift all see the same integers; the model's serving
# signature takes the same numbers (``_shared.model_io``: ``date`` / ``timestamp`` inputs).
# Sub-second precision is dropped (truncated) from timestamps.

UNIX_DAYS = "UNIX_DAYS"
UNIX_SECONDS = "UNIX_SECONDS"


def time_format(arrow_type) -> Optional[str]:
    """``UNIX_DAYS`` for an Arrow date type, ``UNIX_SECONDS`` for a timestamp, else None."""
    import pyarrow as pa

    if pa.types.is_date(arrow_type):
        return UNIX_DAYS
    if pa.types.is_timestamp(arrow_type):
        return UNIX_SECONDS
    return None


def time_columns(arrow_schema) -> Dict[str, str]:
    """Column -> ``UNIX_DAYS`` / ``UNIX_SECONDS`` for the date and timestamp columns."""
    formats = {f.name: time_format(f.type) for f in arrow_schema}
    return {name: fmt for name, fmt in formats.items() if fmt is not None}


def time_as_int(array):
    """A date column as int64 days, a timestamp column as int64 seconds, since the epoch."""
    import pyarrow as pa

    t = array.type
    if pa.types.is_date(t):
        return array.cast(pa.date32()).cast(pa.int32()).cast(pa.int64())
    return array.cast(pa.timestamp("s", t.tz), safe=False).cast(pa.int64())


def mark_time_domains(schema, columns: Mapping[str, str]) -> None:
    """Gives the INT features of date/timestamp ``columns`` (column -> ``UNIX_DAYS`` /
    ``UNIX_SECONDS``) their ``time_domain``, in place; features with a domain are kept."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    for feature in schema.feature:
        fmt = columns.get(feature.name)
        if fmt and feature.type == schema_pb2.INT and feature.WhichOneof("domain_info") is None:
            feature.time_domain.integer_format = schema_pb2.TimeDomain.IntegerTimeFormat.Value(fmt)


def canonical_array(array):
    """Returns ``array`` cast to the primitive type TFDV expects, or None if unsupported
    (dates and timestamps become int64 days / seconds since the epoch, see above)."""
    import pyarrow as pa

    t = array.type
    if time_format(t) is not None:
        return time_as_int(array)
    if pa.types.is_dictionary(t):
        array = array.cast(t.value_type)
        t = array.type
    if pa.types.is_large_binary(t):
        return array
    if (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
            or pa.types.is_fixed_size_binary(t)):
        return array.cast(pa.large_binary())
    if pa.types.is_boolean(t):
        return array.cast(pa.int8())
    if pa.types.is_unsigned_integer(t):
        return array if t == pa.uint64() else array.cast(pa.uint64())
    if pa.types.is_integer(t):
        return array if t == pa.int64() else array.cast(pa.int64())
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return array if t == pa.float64() else array.cast(pa.float64())
    if pa.types.is_null(t):
        return array
    return None


def unsupported_columns(arrow_schema) -> List[str]:
    """Columns TFDV cannot describe (times of day, durations, nested types): they are
    skipped. Dates and timestamps are described as integers (see :func:`time_as_int`)."""
    import pyarrow as pa

    return [f.name for f in arrow_schema
            if canonical_array(pa.nulls(0, type=f.type)) is None]


def bool_columns(arrow_schema) -> List[str]:
    import pyarrow as pa

    return [f.name for f in arrow_schema if pa.types.is_boolean(f.type)]


def canonicalize_batch(batch, skip: Sequence[str] = ()):
    """Converts a flat ``pyarrow.RecordBatch`` to TFDV's form: one ``large_list`` per column.

    Strings become ``large_binary``, integers ``int64``, floats ``float64``, booleans ``int8``
    (describe them with :func:`stats_options` so TFDV treats them as categorical); a null
    becomes a null list (a missing value), as ``tfdv.generate_statistics_from_dataframe`` does
    through ``table_util.CanonicalizeRecordBatch``. Columns in ``skip`` are dropped.
    """
    import pyarrow as pa
    from tfx_bsl.arrow import array_util

    from kfp_mlops.components._shared.statistics import flat

    arrays, names = [], []
    for name, column in zip(batch.schema.names, batch.columns):
        if name in skip:
            continue
        if pa.types.is_large_list(column.type):
            arrays.append(column)
        elif pa.types.is_list(column.type):
            arrays.append(column.cast(pa.large_list(column.type.value_type)))
        else:
            fast = flat.singleton_list(column)
            if fast is not None:
                arrays.append(fast)
            else:
                canonical = canonical_array(column)
                if canonical is None:
                    raise TypeError(f"column {name!r} has type {column.type}, which TFDV "
                                    "cannot describe; drop it or cast it to a number or a string")
                arrays.append(array_util.ToSingletonListArray(canonical))
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names)


def stats_options(bool_features: Sequence[str] = (), schema=None):
    """``tfdv.StatsOptions`` for data whose boolean columns are ``bool_features``.

    Booleans are INT features with a ``bool_domain`` (categorical, like TFDV does for pandas
    booleans). ``schema`` (a curated schema) is used when given, so its categorical integer
    features get string statistics.
    """
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    options = tfdv.StatsOptions()
    stats_schema = copy.deepcopy(schema) if schema is not None else schema_pb2.Schema()
    known = {f.name: f for f in stats_schema.feature}
    for name in bool_features:
        feature = known.get(name) or stats_schema.feature.add(name=name)
        feature.type = schema_pb2.INT
        if not feature.HasField("bool_domain"):
            feature.bool_domain.SetInParent()
    if stats_schema.feature:
        options.schema = stats_schema
    return options


#: Runners that submit to the Dataflow service (Beam's ``PipelineOptionsValidator.is_service_runner``).
DATAFLOW_RUNNERS = ("DataflowRunner", "TestDataflowRunner")


def beam_options(pipeline_args: Sequence[str]):
    """Beam's ``PipelineOptions`` of ``pipeline_args``, refused early when a Dataflow run lacks
    what the service needs.

    Beam's ``GoogleCloudOptions.validate`` (``apache_beam/options/pipeline_options.py``)
    checks, for a service runner, ``--project`` and ``--region``
    (``PipelineOptionsValidator.validate_cloud_options``) and a temp or staging location
    (``_handle_temp_and_staging_locations``). Where no location is given Beam would create a
    default bucket in the project at run time; we refuse instead, before any split is read,
    so a validate task never writes to a bucket nobody named.

    Raises:
        ValueError: naming the missing option and the Dataflow runner.
    """
    from apache_beam.options.pipeline_options import (GoogleCloudOptions, PipelineOptions,
                                                      StandardOptions)

    options = PipelineOptions(list(pipeline_args))
    runner = options.view_as(StandardOptions).runner or ""
    if runner.rsplit(".", 1)[-1] in DATAFLOW_RUNNERS:
        cloud = options.view_as(GoogleCloudOptions)
        missing = [flag for flag, value in (("--project", cloud.project),
                                            ("--region", cloud.region)) if not value]
        location = cloud.temp_location or cloud.staging_location
        if not location:
            missing.append("--temp_location")
        elif not location.startswith("gs://"):
            raise ValueError(f"beam_pipeline_args: --runner={runner} needs a gs:// "
                             f"--temp_location (got {location!r})")
        if missing:
            raise ValueError(f"beam_pipeline_args: --runner={runner} needs "
                             f"{', '.join(missing)} (got {list(pipeline_args)})")
    return options


def statistics_with_beam(inputs: Mapping[str, str], output_paths: Mapping[str, str],
                         pipeline_args: Sequence[str], options=None,
                         skip_columns: Sequence[str] = ()) -> None:
    """Computes statistics of Parquet files with one Beam pipeline (e.g. on Dataflow).

    Args:
        inputs: name -> Parquet file or pattern; each becomes one statistics file.
        output_paths: name -> where to write its binary ``DatasetFeatureStatisticsList``.
        pipeline_args: Beam pipeline options, e.g. ``["--runner=DataflowRunner", ...]``.
        options: ``tfdv.StatsOptions``.
        skip_columns: columns left out of the statistics.
    """
    import apache_beam as beam
    import tensorflow_data_validation as tfdv
    from kfp_mlops.components._shared import io

    beam_opts = beam_options(pipeline_args)
    options = options if options is not None else tfdv.StatsOptions()
    skip = tuple(skip_columns)

    def to_batches(table):
        for batch in table.to_batches():
            if batch.num_rows:
                yield canonicalize_batch(batch, skip)

    # These paths are artifact folders: local, or on Vertex AI's /gcs/ mount. Beam opens them
    # with its own file systems, in workers (Dataflow) that have no such mount but read
    # gs:// themselves, so a mount path is handed over as its gs:// URI rather than through
    # the I/O layer (fsspec cannot give Beam a file system).
    with beam.Pipeline(options=beam_opts) as pipeline:
        for name, pattern in inputs.items():
            _ = (pipeline
                 | f"Read[{name}]" >> beam.io.ReadFromParquetBatched(io.from_mount_path(pattern))
                 | f"ToRecordBatches[{name}]" >> beam.FlatMap(to_batches)
                 | f"GenerateStatistics[{name}]" >> tfdv.GenerateStatistics(options)
                 | f"Write[{name}]" >> tfdv.WriteStatisticsToBinaryFile(
                     io.from_mount_path(output_paths[name])))


def load_statistics(path: str, name: str = ""):
    """Loads a binary statistics file; renames its single dataset to ``name`` when given."""
    import tensorflow_data_validation as tfdv

    stats = tfdv.load_stats_binary(path)
    if name and len(stats.datasets) == 1:
        stats.datasets[0].name = name
    return stats
