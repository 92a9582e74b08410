"""Writes the monitoring demo batches from the bundled penguins data, deterministically.

    python pipelines/data/make_batches.py            # rewrites the four files below

* ``penguins_serving.csv``: an undrifted serving batch -- ``ROWS`` rows sampled without
  replacement from ``penguins.csv`` (fixed seed), without the ``species`` label, as a
  prediction service receives them;
* ``penguins_drifted.csv``: a drifted batch -- ``ROWS`` rows drawn with the islands
  reweighted (Torgersen 60 %, Dream 25 %, Biscoe 15 % instead of about 15/36/49 %), body
  mass raised by 40 % and flipper length by 20 mm (both still whole numbers, the types the
  schema expects), without the label;
* ``penguins_serving_labels.csv``: the labels that arrive later for the serving batch -- the
  true ``species`` of each of its rows, keyed by ``input_row`` (the row's 0-based position in
  ``penguins_serving.csv``, the key the predictions of a batch without a key column carry);
* ``penguins_serving_labels_shifted.csv``: the same rows as if the world had changed under
  the model: ``RELABELLED_SHARE`` of them (picked with a fixed seed) carry the next species
  in sorted order (Adelie -> Chinstrap -> Gentoo -> Adelie), so a model that was right on
  them is now wrong, and performance monitoring reports the degradation.

After ``make run`` has trained ``penguins`` into ``local_registry/``, the monitoring pipeline
reports no drift on the first and drift on the second with the default settings: island,
body_mass_g and flipper_length_mm, which were changed, and bill_length_mm and
bill_depth_mm, which the reweighted islands move with them (Torgersen's penguins are all
Adelie, with short bills); sex and year stay. At ``ROWS`` rows the monitor decides by its
two-sample tests; by distance (``decide_by=distance``, the 0.3 thresholds) the sampling noise
stays far below 0.3 (Jensen-Shannon divergences of the serving sample are below ~0.05) and
exactly the three changed features are flagged.

Standard library only; the same input always gives byte-identical files.
"""
import argparse
import csv
import os
import random
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "penguins.csv")
SERVING = os.path.join(HERE, "penguins_serving.csv")
DRIFTED = os.path.join(HERE, "penguins_drifted.csv")
LABEL = "species"
ROWS = 150
SEED = 20240611
ISLAND_WEIGHTS = {"Torgersen": 0.60, "Dream": 0.25, "Biscoe": 0.15}
BODY_MASS_FACTOR = 1.4
FLIPPER_SHIFT_MM = 20
SERVING_LABELS = os.path.join(HERE, "penguins_serving_labels.csv")
SHIFTED_LABELS = os.path.join(HERE, "penguins_serving_labels_shifted.csv")
#: The key column of the labels: the row's 0-based position in the serving batch
#: (``kfp_mlops.components.predict.predictions.ROW_KEY``).
ROW_KEY = "input_row"
RELABELLED_SHARE = 0.3


def read_rows(path: str = SOURCE) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _scaled(value: str, factor: float = 1.0, shift: float = 0.0) -> str:
    """A whole-number column value scaled and shifted; ``NA`` stays missing."""
    if value in ("", "NA"):
        return value
    return str(int(round(float(value) * factor + shift)))


def _serving_sample(rows: List[Dict[str, str]], n: int = ROWS, seed: int = SEED):
    return random.Random(seed).sample(rows, n)


def serving_batch(rows: List[Dict[str, str]], n: int = ROWS, seed: int = SEED):
    return [{k: v for k, v in r.items() if k != LABEL} for r in _serving_sample(rows, n, seed)]


def serving_labels(rows: List[Dict[str, str]], n: int = ROWS, seed: int = SEED):
    """The true label of each row of :func:`serving_batch`, keyed by its 0-based position."""
    return [{ROW_KEY: str(i), LABEL: r[LABEL]}
            for i, r in enumerate(_serving_sample(rows, n, seed))]


def shifted_labels(labels: List[Dict[str, str]], share: float = RELABELLED_SHARE,
                   seed: int = SEED + 2):
    """``labels`` with ``share`` of the rows given the next label in sorted order."""
    classes = sorted({r[LABEL] for r in labels})
    following = {c: classes[(i + 1) % len(classes)] for i, c in enumerate(classes)}
    moved = set(random.Random(seed).sample(range(len(labels)), round(share * len(labels))))
    return [{ROW_KEY: r[ROW_KEY], LABEL: following[r[LABEL]] if i in moved else r[LABEL]}
            for i, r in enumerate(labels)]


def drifted_batch(rows: List[Dict[str, str]], n: int = ROWS, seed: int = SEED + 1):
    rng = random.Random(seed)
    by_island: Dict[str, List[Dict[str, str]]] = {}
    for r in rows:
        by_island.setdefault(r["island"], []).append(r)
    islands = sorted(ISLAND_WEIGHTS)
    out = []
    for _ in range(n):
        island = rng.choices(islands, weights=[ISLAND_WEIGHTS[i] for i in islands])[0]
        r = dict(rng.choice(by_island[island]))
        r["body_mass_g"] = _scaled(r["body_mass_g"], factor=BODY_MASS_FACTOR)
        r["flipper_length_mm"] = _scaled(r["flipper_length_mm"], shift=FLIPPER_SHIFT_MM)
        out.append({k: v for k, v in r.items() if k != LABEL})
    return out


def write(path: str, rows: List[Dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=ROWS, help="rows per batch (default %(default)s)")
    p.add_argument("--output-dir", default=HERE)
    a = p.parse_args(argv)
    rows = read_rows()
    write(os.path.join(a.output_dir, os.path.basename(SERVING)), serving_batch(rows, a.rows))
    write(os.path.join(a.output_dir, os.path.basename(DRIFTED)), drifted_batch(rows, a.rows))
    labels = serving_labels(rows, a.rows)
    write(os.path.join(a.output_dir, os.path.basename(SERVING_LABELS)), labels)
    write(os.path.join(a.output_dir, os.path.basename(SHIFTED_LABELS)), shifted_labels(labels))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
