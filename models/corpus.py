"""Parity corpus for the Rust CatBoost evaluator (`catboost-eval`).

Trains small CatBoost models that together cover everything the evaluator supports, and writes
for each one, under `<out>/<name>/`:

- `model.json`     the JSON export (volatile fields `model_guid` / `train_finish_time` removed,
                   so that reruns give the same bytes);
- `rows.jsonl`     input rows in `catboost-predict` format: one JSON array per line in flat
                   feature order; a float is a number, `null`, "NaN", "Infinity" or
                   "-Infinity"; a categorical value is a string, or an integer number
                   (CatBoost's Python package reads an int in a categorical column as its
                   decimal text; it refuses floats there);
- `expected.jsonl` CatBoost's own outputs for those rows in `catboost-predict` output format:
                   `raw` (`predict(prediction_type="RawFormulaVal")`), and `probability`
                   (`predict_proba`) plus `class` (`predict`) for classifiers, or
                   `prediction` (`predict`) for regressors.

Modes:
  corpus.py corpus --out golden/corpus         the fixed corpus (deterministic bytes)
  corpus.py random --seed N --count K --out D  K random models (random data and parameters)
  corpus.py bench --out golden/bench           the two benchmark models (1000 sample rows each)
                                               and CatBoost's own predict_proba timing on
                                               100k rows (the sample tiled)

Run with the project's venv: models/.venv/bin/python models/corpus.py corpus --out golden/corpus
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time

import catboost
import numpy as np
import pandas as pd

UNICODE_WORDS = ["ünïcødé", "猫", "κατηγορία", "emoji 🐈‍⬛", "ß", "Ω≈ç√"]


# ----------------------------------------------------------------------------- data


def category_pool(rng, k, col):
    """k category strings: numeric-looking ones (so integer input can match), words, unicode,
    and strings of every CityHash length bucket."""
    cats = []
    for i in range(k):
        kind = i % 5
        if kind == 0:
            cats.append(str(i))
        elif kind == 1:
            cats.append(f"{col}_w{i}")
        elif kind == 2:
            cats.append(UNICODE_WORDS[i % len(UNICODE_WORDS)] + str(i))
        elif kind == 3:
            cats.append(f"{col}-long-{i}-" + "x" * int(rng.integers(10, 90)))
        else:
            cats.append(str(-i))
    return cats


def make_frame(rng, n, spec):
    """spec: list of ("f", nan_frac) or ("c", categories). Returns DataFrame, names, kinds."""
    cols = {}
    names = []
    for i, (kind, arg) in enumerate(spec):
        name = f"{kind}{i}"
        names.append(name)
        if kind == "f":
            x = rng.normal(size=n) * (1 + i)
            if arg > 0:
                x[rng.random(n) < arg] = np.nan
            cols[name] = x
        else:
            # Skewed frequencies so that Counter CTRs vary.
            p = np.arange(1, len(arg) + 1, dtype=float) ** -0.7
            cols[name] = rng.choice(np.array(arg, dtype=object), size=n, p=p / p.sum())
    return pd.DataFrame(cols, columns=names), names


def score(df, spec, rng_seed):
    """A deterministic nonlinear function of the features, with interactions."""
    rng = np.random.default_rng(rng_seed)
    s = np.zeros(len(df))
    cat_effects = []
    for i, (kind, arg) in enumerate(spec):
        col = df[f"{kind}{i}"]
        if kind == "f":
            x = col.to_numpy(dtype=float)
            w = rng.normal()
            s += np.where(np.isnan(x), 1.5 * w, w * np.tanh(x) + 0.3 * (x > 0.5))
        else:
            eff = {c: rng.normal() for c in arg}
            v = col.map(eff).to_numpy(dtype=float)
            s += v
            cat_effects.append(v)
    if len(cat_effects) >= 2:
        s += 1.2 * cat_effects[0] * cat_effects[1]
    return s


def make_target(s, task, rng, classes=None):
    if task == "binary":
        p = 1 / (1 + np.exp(-2 * s))
        y = (rng.random(len(s)) < p).astype(int)
        return [classes[v] for v in y] if classes else y
    if task == "multiclass":
        k = len(classes)
        q = np.quantile(s + rng.normal(scale=0.3, size=len(s)), np.linspace(0, 1, k + 1)[1:-1])
        idx = np.searchsorted(q, s + rng.normal(scale=0.3, size=len(s)))
        return [classes[v] for v in idx]
    if task == "poisson":
        return rng.poisson(np.exp(0.5 * np.clip(s, -3, 3)))
    if task == "multirmse":
        return np.stack([s + rng.normal(scale=0.2, size=len(s)), -0.5 * s + rng.normal(size=len(s))], axis=1)
    return s + rng.normal(scale=0.2, size=len(s))


# ----------------------------------------------------------------------------- rows


def f32_ulp(b):
    b32 = np.float32(b)
    # Next to +-f32::MAX (nan_mode Min/Max borders) the neighbour is infinite: fine, the
    # values derived from it are then +-inf, which are tested anyway.
    with np.errstate(over="ignore"):
        up = float(np.nextafter(b32, np.float32(np.inf))) - float(b32)
        down = float(b32) - float(np.nextafter(b32, np.float32(-np.inf)))
    return up, down


def border_values(b):
    """Values on and around an f32 border: the border itself, its f64 neighbours (which round
    onto it in f32), points 0.49 ulp(f32) away (still round onto it) and 0.51 ulp away (round
    to the neighbouring f32)."""
    up, down = f32_ulp(b)
    return [
        b,
        float(np.nextafter(b, np.inf)),
        float(np.nextafter(b, -np.inf)),
        b + 0.49 * up,
        b - 0.49 * down,
        b + 0.51 * up,
        b - 0.51 * down,
    ]


def encode_float(x, style):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None if style % 2 == 0 else "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def test_rows(model_json, df, names, spec, rng, n_random=50, max_borders_per_feature=10):
    """Rows (as lists of Python values: float, nan, str or int) that exercise the model."""
    base_rows = [list(r) for r in df.itertuples(index=False, name=None)]
    rows = []
    pick = lambda: list(base_rows[int(rng.integers(len(base_rows)))])
    for _ in range(n_random):
        rows.append(pick())
    fi = model_json["features_info"]
    # Borders: exactly on them and on both sides.
    for f in fi.get("float_features", []):
        flat = f["flat_feature_index"]
        borders = f.get("borders", [])
        if len(borders) > max_borders_per_feature:
            idx = np.linspace(0, len(borders) - 1, max_borders_per_feature).round().astype(int)
            borders = [borders[i] for i in sorted(set(idx))]
        for b in borders:
            for v in border_values(b):
                r = pick()
                r[flat] = v
                rows.append(r)
    # Special floats in every float column.
    for i, (kind, _) in enumerate(spec):
        if kind == "f":
            for v in [float("nan"), float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1e300, -1e-300]:
                r = pick()
                r[i] = v
                rows.append(r)
    # Every float column missing at once.
    r = pick()
    for i, (kind, _) in enumerate(spec):
        if kind == "f":
            r[i] = float("nan")
    rows.append(r)
    # Categories: unseen, empty, unicode, long, numbers for numeric-looking categories.
    for i, (kind, cats) in enumerate(spec):
        if kind != "c":
            continue
        specials = ["", "never-seen-category", "猫🐈 ünï", "y" * 150, "0", str(cats[1]), " " + str(cats[0])]
        ints = [int(c) for c in cats if c.lstrip("-").isdigit()][:4] + [123456789, -7]
        for v in specials + ints:
            r = pick()
            r[i] = v
            rows.append(r)
        # Same category in every categorical column (hits combinations of unseen pairs).
        r = pick()
        for j, (k2, _) in enumerate(spec):
            if k2 == "c":
                r[j] = "never-seen-category"
        rows.append(r)
    return rows


def rows_frame(rows, names, spec):
    cols = {}
    for i, name in enumerate(names):
        if spec[i][0] == "f":
            cols[name] = np.array([float(r[i]) for r in rows], dtype=np.float64)
        else:
            cols[name] = pd.Series([r[i] for r in rows], dtype=object)
    return pd.DataFrame(cols, columns=names)


# ----------------------------------------------------------------------------- outputs


def to_json_label(v):
    if isinstance(v, np.ndarray):
        v = v.reshape(-1)[0]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return str(v)


def expected_lines(model, frame, is_classifier):
    raw = np.asarray(model.predict(frame, prediction_type="RawFormulaVal", thread_count=1))
    raw = raw.reshape(len(frame), -1)
    out = []
    if is_classifier:
        proba = np.asarray(model.predict_proba(frame, thread_count=1)).reshape(len(frame), -1)
        cls = model.predict(frame, thread_count=1)
        for i in range(len(frame)):
            out.append({"raw": [float(v) for v in raw[i]], "probability": [float(v) for v in proba[i]], "class": to_json_label(cls[i])})
    else:
        pred = np.asarray(model.predict(frame, thread_count=1))
        for i in range(len(frame)):
            p = pred[i]
            p = [float(v) for v in p] if np.ndim(p) > 0 else float(p)
            out.append({"raw": [float(v) for v in raw[i]], "prediction": p})
    return out


def normalise_export(path):
    """Drops fields that change on every training run, so reruns give identical bytes."""
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    info = doc.get("model_info", {})
    for key in ("model_guid", "train_finish_time"):
        info.pop(key, None)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    return doc


def write_case(out_dir, name, model, pool, df, names, spec, is_classifier, rng, n_random=50, max_borders=10,
               lossy_ok=False):
    """Writes one case; returns its row count. If CatBoost's own evaluator, reloading the JSON
    export, disagrees with the trained model (a lossy export), the case goes to
    `<out>/refused/<name>/` instead when `lossy_ok` (the Rust loader must refuse it), else the
    run fails."""
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    mpath = os.path.join(d, "model.json")
    model.save_model(mpath, format="json", pool=pool)
    doc = normalise_export(mpath)
    rows = test_rows(doc, df, names, spec, rng, n_random=n_random, max_borders_per_feature=max_borders)
    frame = rows_frame(rows, names, spec)
    exp = expected_lines(model, frame, is_classifier)
    # The export must be lossless: CatBoost itself, loading the JSON, gives the same raw values.
    reloaded = catboost.CatBoost()
    reloaded.load_model(mpath, format="json")
    raw2 = np.asarray(reloaded.predict(frame, prediction_type="RawFormulaVal", thread_count=1)).reshape(len(frame), -1)
    raw1 = np.array([e["raw"] for e in exp])
    if not np.allclose(raw1, raw2, rtol=0, atol=1e-12):
        diff = np.abs(raw1 - raw2).max()
        if not lossy_ok:
            raise SystemExit(f"{name}: CatBoost's reloaded JSON model disagrees with the trained model by {diff:.3g}")
        dest = os.path.join(out_dir, "refused", name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.move(d, dest)
        with open(os.path.join(dest, "expected_error.txt"), "w") as fh:
            fh.write("the JSON export keeps\n")
        print(f"{name}: lossy export (CatBoost's reloaded model differs by {diff:.3g}), moved to refused/",
              file=sys.stderr)
        return 0
    with open(os.path.join(d, "rows.jsonl"), "w", encoding="utf-8") as fh:
        for k, r in enumerate(rows):
            line = []
            for i, v in enumerate(r):
                if spec[i][0] == "f":
                    line.append(encode_float(float(v), k + i))
                else:
                    line.append(v if isinstance(v, (str, int)) else str(v))
            fh.write(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n")
    with open(os.path.join(d, "expected.jsonl"), "w", encoding="utf-8") as fh:
        for e in exp:
            fh.write(json.dumps(e, ensure_ascii=False, allow_nan=False) + "\n")
    return len(rows)


# ----------------------------------------------------------------------------- fixed corpus


def spec_of(rng, n_float, n_cat, nan_frac=0.0, k=(6, 14)):
    spec = []
    fi = ci = 0
    while fi < n_float or ci < n_cat:
        if fi < n_float:
            spec.append(("f", nan_frac))
            fi += 1
        if ci < n_cat:
            spec.append(("c", category_pool(rng, int(rng.integers(k[0], k[1] + 1)), f"c{len(spec)}")))
            ci += 1
    return spec


COMMON = dict(random_seed=0, thread_count=1, verbose=0, allow_writing_files=False)


def corpus_cases():
    """(name, task, classes, n_rows, spec args, model params)."""
    return [
        ("float_asis_binary", "binary", None, 400, dict(n_float=4, n_cat=0), dict(iterations=30, depth=4)),
        ("float_nan_min_binary", "binary", None, 400, dict(n_float=3, n_cat=0, nan_frac=0.2),
         dict(iterations=30, depth=4, nan_mode="Min")),
        ("float_nan_max_regression", "regression", None, 400, dict(n_float=3, n_cat=0, nan_frac=0.2),
         dict(iterations=30, depth=5, nan_mode="Max")),
        ("float_nan_forbidden_regression", "regression", None, 300, dict(n_float=3, n_cat=0),
         dict(iterations=20, depth=3, nan_mode="Forbidden", boost_from_average=True)),
        ("onehot_multiclass_int", "multiclass", [0, 1, 2], 500, dict(n_float=2, n_cat=2, k=(3, 5)),
         dict(iterations=30, depth=4, one_hot_max_size=10, loss_function="MultiClass")),
        ("ctr_binary_str_all_types", "binary", ["no", "yes"], 800, dict(n_float=2, n_cat=3),
         dict(iterations=40, depth=5, one_hot_max_size=2, max_ctr_complexity=4,
              simple_ctr=["Borders", "Buckets", "Counter:Prior=0.5/1", "BinarizedTargetMeanValue"],
              combinations_ctr=["Borders", "Counter", "BinarizedTargetMeanValue"])),
        ("ctr_multiclass_str", "multiclass", ["ant", "bee", "cat", "dog"], 800, dict(n_float=2, n_cat=3),
         dict(iterations=30, depth=4, loss_function="MultiClass", max_ctr_complexity=3,
              simple_ctr=["Borders", "Buckets", "Counter"], combinations_ctr=["Borders", "Buckets"])),
        ("ctr_regression_borders", "regression", None, 600, dict(n_float=2, n_cat=2, nan_frac=0.1),
         dict(iterations=30, depth=4, max_ctr_complexity=2,
              simple_ctr=["Borders:TargetBorderCount=3", "Counter", "BinarizedTargetMeanValue"],
              combinations_ctr=["Borders:TargetBorderCount=2"])),
        ("depthwise_ctr_binary_int", "binary", [3, 7], 600, dict(n_float=3, n_cat=2, nan_frac=0.1),
         dict(iterations=25, depth=5, grow_policy="Depthwise", nan_mode="Max", one_hot_max_size=4)),
        ("lossguide_multiclass_str", "multiclass", ["lo", "mid", "hi"], 600, dict(n_float=3, n_cat=2),
         dict(iterations=25, grow_policy="Lossguide", max_leaves=12, loss_function="MultiClass", one_hot_max_size=3)),
        ("lossguide_regression_ctr", "regression", None, 500, dict(n_float=2, n_cat=3),
         dict(iterations=25, grow_policy="Lossguide", max_leaves=10, max_ctr_complexity=3)),
        ("scale_bias_binary_bool", "binary", [False, True], 400, dict(n_float=3, n_cat=1),
         dict(iterations=20, depth=4, boost_from_average=True)),
        ("multirmse_regression", "multirmse", None, 400, dict(n_float=3, n_cat=0),
         dict(iterations=20, depth=4, loss_function="MultiRMSE")),
        ("poisson_regression", "poisson", None, 400, dict(n_float=3, n_cat=1),
         dict(iterations=20, depth=3, loss_function="Poisson")),
        ("onevsall_multiclass_float_labels", "multiclass", [0.5, 1.5, 2.5], 500, dict(n_float=3, n_cat=1),
         dict(iterations=20, depth=3, loss_function="MultiClassOneVsAll")),
        ("crossentropy_depthwise_nan_min", "binary", None, 400, dict(n_float=3, n_cat=1, nan_frac=0.15),
         dict(iterations=20, depth=4, grow_policy="Depthwise", nan_mode="Min", loss_function="Logloss")),
        # Deeper than 8 levels: 16-bit leaf indices.
        ("deep_symmetric_regression", "regression", None, 2000, dict(n_float=4, n_cat=1, nan_frac=0.05),
         dict(iterations=6, depth=10)),
        # Features with more than 255 borders: the evaluator counts them in several byte columns.
        ("float_many_borders_binary", "binary", None, 4000, dict(n_float=2, n_cat=0),
         dict(iterations=150, depth=8, border_count=1024)),
    ]


def build_case(out_dir, name, task, classes, n, spec_args, params, seed):
    rng = np.random.default_rng(seed)
    spec = spec_of(rng, **spec_args)
    df, names = make_frame(rng, n, spec)
    s = score(df, spec, seed + 1)
    y = make_target(s, task, rng, classes)
    cat_names = [nm for nm, (k, _) in zip(names, spec) if k == "c"]
    pool = catboost.Pool(df, y, cat_features=cat_names)
    is_classifier = task in ("binary", "multiclass")
    cls = catboost.CatBoostClassifier if is_classifier else catboost.CatBoostRegressor
    model = cls(**{**COMMON, **params, "random_seed": seed})
    model.fit(pool)
    return model, pool, df, names, spec, is_classifier, rng


def scale_and_bias_tweak(name, model):
    if name == "scale_bias_binary_bool":
        scale, bias = model.get_scale_and_bias()
        model.set_scale_and_bias(0.75, bias + 0.3 if np.ndim(bias) == 0 else [b + 0.3 for b in bias])


def cmd_corpus(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    total = 0
    for seed, (name, task, classes, n, spec_args, params) in enumerate(corpus_cases(), start=100):
        model, pool, df, names, spec, is_clf, rng = build_case(out_dir, name, task, classes, n, spec_args, params, seed)
        scale_and_bias_tweak(name, model)
        k = write_case(out_dir, name, model, pool, df, names, spec, is_clf, rng)
        total += k
        print(f"{name}: {k} rows", file=sys.stderr)
    constant_cases(out_dir)
    # Hash strings of every CityHash length bucket, for the hash test.
    hash_case(out_dir)
    refused_cases(out_dir)
    with open(os.path.join(out_dir, "VERSION"), "w") as fh:
        fh.write(f"catboost {catboost.__version__}\n")
    print(f"total rows: {total}", file=sys.stderr)


def constant_cases(out_dir):
    """Constant models, valid CatBoost: `depth=0` trains trees without splits (one leaf each),
    and the same model with its features removed from the export has no features at all;
    CatBoost loads both and predicts the same constant for every row (the feature-less one from
    rows of any width; its rows here are empty)."""
    name = "constant_depth0_binary"
    model, pool, df, names, spec, is_clf, rng = build_case(
        out_dir, name, "binary", None, 300, dict(n_float=2, n_cat=1), dict(iterations=5, depth=0), 90)
    write_case(out_dir, name, model, pool, df, names, spec, is_clf, rng, n_random=10)
    print(f"{name}: constant model", file=sys.stderr)

    name = "no_features_binary"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    mpath = os.path.join(d, "model.json")
    model.save_model(mpath, format="json")
    doc = normalise_export(mpath)
    doc["features_info"] = {}
    with open(mpath, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    reloaded = catboost.CatBoostClassifier()
    reloaded.load_model(mpath, format="json")
    # CatBoost refuses input without columns; the model reads none, so one dummy column.
    frame = np.zeros((5, 1))
    with open(os.path.join(d, "rows.jsonl"), "w", encoding="utf-8") as fh:
        fh.write("[]\n" * len(frame))
    with open(os.path.join(d, "expected.jsonl"), "w", encoding="utf-8") as fh:
        for e in expected_lines(reloaded, frame, True):
            fh.write(json.dumps(e, ensure_ascii=False, allow_nan=False) + "\n")
    print(f"{name}: no features", file=sys.stderr)


def hash_case(out_dir):
    """A tiny model whose export carries `cat_features_hash` for many strings of every length
    bucket (0..=16, 17..=32, 33..=64, >64 bytes) and unicode."""
    rng = np.random.default_rng(7)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.") + ["é", "猫", "🐈", "ß"]
    strings = set([""])
    for length in list(range(1, 80)) + [95, 96, 97, 127, 128, 129, 200, 257, 513]:
        for _ in range(3):
            strings.add("".join(rng.choice(alphabet, size=length)))
    strings = sorted(strings)
    n = len(strings) * 2
    df = pd.DataFrame({"c": strings * 2, "f": rng.normal(size=n)})
    y = (rng.random(n) < 0.5).astype(int)
    pool = catboost.Pool(df, y, cat_features=["c"])
    model = catboost.CatBoostClassifier(**{**COMMON, "iterations": 2, "depth": 1})
    model.fit(pool)
    d = os.path.join(out_dir, "hash_strings")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.json")
    model.save_model(path, format="json", pool=pool)
    doc = normalise_export(path)
    assert len(doc["features_info"]["cat_features_hash"]) == len(strings)


def refused_cases(out_dir):
    """Models whose JSON export CatBoost 1.2.10 itself cannot evaluate back to the trained
    model's values; the evaluator must refuse them at load. Writes `model.json` and
    `expected_error.txt` (a substring of the load error) under `<out>/refused/<name>/`."""
    cases = [
        ("multirmse_with_ctrs", "multirmse", dict(n_float=2, n_cat=1),
         dict(iterations=10, depth=3, loss_function="MultiRMSE"), "multi-target regression"),
        ("mean_ctr_two_target_borders", "regression", dict(n_float=2, n_cat=2),
         dict(iterations=10, depth=3, simple_ctr=["BinarizedTargetMeanValue:TargetBorderCount=2"],
              combinations_ctr=["Borders"]), "target_binarization.border_count"),
    ]
    for seed, (name, task, spec_args, params, err) in enumerate(cases, start=900):
        model, pool, df, names, spec, _, _ = build_case(out_dir, name, task, None, 400, spec_args, params, seed)
        d = os.path.join(out_dir, "refused", name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.json")
        model.save_model(path, format="json")
        normalise_export(path)
        reloaded = catboost.CatBoost()
        reloaded.load_model(path, format="json")
        diff = np.abs(np.asarray(model.predict(df, prediction_type="RawFormulaVal"))
                      - np.asarray(reloaded.predict(df, prediction_type="RawFormulaVal"))).max()
        if diff < 1e-6:
            raise SystemExit(f"refused/{name}: the export is no longer lossy (diff {diff}); revisit the refusal")
        with open(os.path.join(d, "expected_error.txt"), "w") as fh:
            fh.write(err + "\n")
        print(f"refused/{name}: CatBoost's own reloaded export differs by {diff:.3g}", file=sys.stderr)


# ----------------------------------------------------------------------------- random models


def cmd_random(out_dir, seed, count):
    master = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    for m in range(count):
        s = int(master.integers(1 << 30))
        rng = np.random.default_rng(s)
        task = str(rng.choice(["binary", "multiclass", "regression"]))
        classes = None
        if task == "multiclass":
            classes = [["a", "b", "c"], [0, 1, 2, 3], ["x", "y"]][int(rng.integers(3))]
            if len(classes) == 2:
                task = "binary"
        elif task == "binary" and rng.random() < 0.5:
            classes = ["neg", "pos"]
        grow = str(rng.choice(["SymmetricTree", "Depthwise", "Lossguide"]))
        params = dict(iterations=int(rng.integers(5, 40)), nan_mode=str(rng.choice(["Min", "Max"])),
                      one_hot_max_size=int(rng.choice([1, 2, 4, 8])), max_ctr_complexity=int(rng.integers(1, 4)),
                      grow_policy=grow, learning_rate=float(rng.uniform(0.05, 0.5)))
        if grow == "Lossguide":
            params["max_leaves"] = int(rng.integers(4, 20))
        else:
            params["depth"] = int(rng.integers(1, 7))
        if task == "multiclass":
            params["loss_function"] = "MultiClass"
        ctr_types = ["Borders", "Buckets", "Counter", "BinarizedTargetMeanValue"]
        params["simple_ctr"] = [str(c) for c in rng.choice(ctr_types, size=int(rng.integers(1, 4)), replace=False)]
        params["combinations_ctr"] = [str(c) for c in rng.choice(ctr_types, size=int(rng.integers(1, 3)), replace=False)]
        spec_args = dict(n_float=int(rng.integers(1, 5)), n_cat=int(rng.integers(0, 4)),
                         nan_frac=float(rng.choice([0.0, 0.1, 0.3])), k=(2, 20))
        name = f"random_{m}_{task}_{grow}"
        n = int(rng.integers(100, 600))
        print(f"{name} (seed {s}): params {params}, features {spec_args}", file=sys.stderr)
        model, pool, df, names, spec, is_clf, rng2 = build_case(out_dir, name, task, classes, n, spec_args, params, s)
        k = write_case(out_dir, name, model, pool, df, names, spec, is_clf, rng2, n_random=40, max_borders=5,
                       lossy_ok=True)
        print(f"{name}: {k} rows", file=sys.stderr)


# ----------------------------------------------------------------------------- benchmarks


def cmd_bench(out_dir, rows, sample):
    """Writes `<out>/<name>/model.json`, `rows.jsonl` (`sample` rows) and `expected.jsonl` (so
    the parity tests cover them too) for the two benchmark models, and prints CatBoost's own single-thread `predict_proba` throughput on `rows` rows
    (the sample tiled), the same rows the Rust benchmark evaluates."""
    os.makedirs(out_dir, exist_ok=True)
    for name, n_cat in [("float6_200trees_depth6", 0), ("ctr3_200trees_depth6", 3)]:
        rng = np.random.default_rng(11)
        spec = [("f", 0.0) for _ in range(6)] + [("c", category_pool(rng, 30, f"c{6 + i}")) for i in range(n_cat)]
        df, names = make_frame(rng, 5000, spec)
        y = make_target(score(df, spec, 12), "binary", rng)
        cat_names = [nm for nm, (k, _) in zip(names, spec) if k == "c"]
        pool = catboost.Pool(df, y, cat_features=cat_names)
        model = catboost.CatBoostClassifier(**{**COMMON, "iterations": 200, "depth": 6})
        model.fit(pool)
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        model.save_model(os.path.join(d, "model.json"), format="json")
        normalise_export(os.path.join(d, "model.json"))
        small, _ = make_frame(np.random.default_rng(13), sample, spec)
        with open(os.path.join(d, "rows.jsonl"), "w", encoding="utf-8") as fh:
            for r in small.itertuples(index=False, name=None):
                fh.write(json.dumps([float(v) if isinstance(v, float) else v for v in r], ensure_ascii=False) + "\n")
        with open(os.path.join(d, "expected.jsonl"), "w", encoding="utf-8") as fh:
            for e in expected_lines(model, small, True):
                fh.write(json.dumps(e, ensure_ascii=False, allow_nan=False) + "\n")
        big = pd.concat([small] * (rows // sample), ignore_index=True)
        pool_big = catboost.Pool(big, cat_features=cat_names)
        model.predict_proba(pool_big, thread_count=1)  # warm up
        best = float("inf")
        for _ in range(7):
            t = time.perf_counter()
            model.predict_proba(pool_big, thread_count=1)
            best = min(best, time.perf_counter() - t)
        best_df = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            model.predict_proba(big, thread_count=1)
            best_df = min(best_df, time.perf_counter() - t)
        print(f"{name}: CatBoost predict_proba(thread_count=1), {len(big)} rows: "
              f"{len(big) / best / 1e6:.3f} M rows/s from a Pool, "
              f"{len(big) / best_df / 1e6:.3f} M rows/s from a DataFrame (best of runs)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("--out", required=True)
    r = sub.add_parser("random")
    r.add_argument("--out", required=True)
    r.add_argument("--seed", type=int, required=True)
    r.add_argument("--count", type=int, default=3)
    b = sub.add_parser("bench")
    b.add_argument("--out", required=True)
    b.add_argument("--rows", type=int, default=100_000)
    b.add_argument("--sample", type=int, default=1000)
    a = ap.parse_args()
    if a.cmd == "corpus":
        cmd_corpus(a.out)
    elif a.cmd == "random":
        cmd_random(a.out, a.seed, a.count)
    else:
        cmd_bench(a.out, a.rows, a.sample)


if __name__ == "__main__":
    main()
