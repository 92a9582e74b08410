"""Predictions folders for the tests, in the layout of ``predict.predictions``, made by
scoring a real model (``_shared.model_io``) the way the predict component does."""
import datetime
import hashlib
import json
import os

from kfp_mlops.components._shared import model_io
from kfp_mlops.components.predict import predictions as preds


def write_predictions(model_dir: str, source_csv: str, out_dir: str, model_name: str,
                      model_version, model_hash: str = "", key_column: str = "") -> str:
    """Scores every row of ``source_csv`` with ``model_dir`` into ``out_dir`` (one part)."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(source_csv)
    serving = model_io.load(model_dir)
    out = serving.predict(frame)
    key = key_column or preds.ROW_KEY
    columns = {key: frame[key_column] if key_column else np.arange(len(frame), dtype=np.int64)}
    classes = list(serving.label_vocabulary)
    if serving.task == model_io.CLASSIFICATION:
        p = np.asarray(out["probabilities"], dtype=np.float64)
        columns[preds.PREDICTION] = [classes[i] for i in np.argmax(p, axis=1)]
        for i, c in enumerate(classes):
            columns[preds.probability_column(c)] = p[:, i]
    else:
        columns[preds.PREDICTION] = np.asarray(out["predictions"], np.float64).reshape(-1)
        classes = []
    table = pd.DataFrame(columns)
    table[preds.MODEL_NAME] = model_name
    table[preds.MODEL_VERSION] = str(model_version)
    os.makedirs(out_dir)
    table.to_parquet(os.path.join(out_dir, preds.part_name(0)), index=False)
    with open(source_csv, "rb") as f:
        content = hashlib.sha256(f.read()).hexdigest()
    metadata = {"model_name": model_name, "model_version": str(model_version),
                "model_uri": model_dir, "model_hash": model_hash, "task": serving.task,
                "label_column": serving.label, "classes": classes, "key_column": key,
                "input_uri": source_csv, "input_content_hash": content, "rows": len(table),
                "files": [preds.part_name(0)],
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "format_version": preds.FORMAT_VERSION}
    with open(os.path.join(out_dir, preds.METADATA_FILE), "w") as f:
        json.dump(metadata, f)
    return out_dir
