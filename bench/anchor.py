"""The Python/CatBoost anchor the Rust service is compared with, measured the way a Python
Lambda would use it. Run by `cargo run -p bench --release`; each mode prints one JSON object.

    anchor.py throughput --model M.json --rows R.jsonl --n 100000 --repeats 11
        single-thread predict_proba(thread_count=1) on the sample rows tiled to n rows; the
        rows are built once (numpy for float-only models, a DataFrame with object columns for
        categorical ones) and only predict_proba is timed, on that input and on a Pool built
        from it beforehand (that one also with thread_count=2)
    anchor.py cold --model model.cbm --row row.json
        import catboost and pandas (what a seed-style Python function imports), load the model,
        predict_proba one row: the whole process is the measurement (the caller times it from
        outside)
    anchor.py handler --model model.cbm --events inputs.jsonl --records N --repeats R
        the Python handler of a request of N golden events: json.loads of the body,
        models/features.py (validate + transform) per record, one predict_proba for all
        records, the response as JSON text; seconds per request
    anchor.py single --model model.cbm --row row.json --repeats 2000
        warm predict_proba of one row (a list, as a handler would pass it), per call
    anchor.py size
        installed size of catboost and everything it needs, and of the interpreter + stdlib
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import sysconfig
import time


def _row_values(path: str) -> list:
    """A row in model column order; `null` is a missing float (NaN), as catboost-predict reads it."""
    with open(path, encoding="utf-8") as f:
        return [float("nan") if v is None else v for v in json.load(f)]


def throughput(args) -> dict:
    import numpy as np
    import pandas as pd
    from catboost import CatBoostClassifier, Pool

    model = CatBoostClassifier()
    model.load_model(args.model, format="json")
    with open(args.model, encoding="utf-8") as f:
        info = json.load(f)["features_info"]
    cat_columns = {c["flat_feature_index"] for c in info.get("categorical_features", [])}
    with open(args.rows, encoding="utf-8") as f:
        sample = [json.loads(line) for line in f if line.strip()]
    rows = [sample[i % len(sample)] for i in range(args.n)]
    width = len(rows[0])

    def as_float(v):
        if v is None:
            return float("nan")
        return float(v)

    names = model.feature_names_
    if cat_columns:
        columns = {}
        for j in range(width):
            if j in cat_columns:
                columns[names[j]] = pd.Series([str(r[j]) if not isinstance(r[j], str) else r[j] for r in rows], dtype=object)
            else:
                columns[names[j]] = pd.Series([as_float(r[j]) for r in rows], dtype="float64")
        data = pd.DataFrame(columns)
    else:
        data = np.array([[as_float(v) for v in r] for r in rows], dtype=np.float64)
    def rates(x, threads=1) -> list[float]:
        model.predict_proba(x, thread_count=threads)  # warm-up
        out = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model.predict_proba(x, thread_count=threads)
            out.append(args.n / (time.perf_counter() - start))
        return out

    # As a handler passes data (the conversion to CatBoost's own structures, category hashing
    # included, is timed), and from a Pool built beforehand (only the evaluation is timed).
    as_passed = rates(data)
    pool = Pool(data, cat_features=sorted(cat_columns) if cat_columns else None)
    return {"rows_per_s": as_passed, "rows_per_s_pool": rates(pool),
            "rows_per_s_pool_2_threads": rates(pool, 2),
            "input": "DataFrame" if cat_columns else "numpy float64"}


def cold(args) -> dict:
    import pandas  # noqa: F401  (a seed-style function imports it at start-up)
    from catboost import CatBoostClassifier

    model = CatBoostClassifier()
    model.load_model(args.model)
    p = model.predict_proba([_row_values(args.row)], thread_count=1)
    return {"probability": float(p[0][1])}


def single(args) -> dict:
    from catboost import CatBoostClassifier

    model = CatBoostClassifier()
    model.load_model(args.model)
    row = _row_values(args.row)
    for _ in range(50):
        model.predict_proba([row], thread_count=1)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.predict_proba([row], thread_count=1)
        times.append(time.perf_counter() - start)
    return {"seconds": times}


def handler(args) -> dict:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    import features
    from catboost import CatBoostClassifier

    model = CatBoostClassifier()
    model.load_model(args.model)
    with open(args.events, encoding="utf-8") as f:
        events = [json.loads(line)["event"] for line in f if line.strip()]
    body = json.dumps({"records": [events[i % len(events)] for i in range(args.records)]})

    def handle(text: str) -> str:
        records = json.loads(text)["records"]
        rows = [features.transform(features.validate(r)) for r in records]
        proba = model.predict_proba(rows, thread_count=1)
        return json.dumps({"predictions": [
            {"id": r.get("id"), "probability": float(p[1]), "class": int(p[1] > 0.5)}
            for r, p in zip(records, proba)]})

    for _ in range(5):
        handle(body)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        handle(body)
        times.append(time.perf_counter() - start)
    return {"seconds": times}


def _closure(name: str) -> set[str]:
    from importlib import metadata
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        key = current.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for spec in metadata.distribution(current).requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def size(_args) -> dict:
    from importlib import metadata

    packages = sorted(_closure("catboost"))
    site = 0
    for name in packages:
        dist = metadata.distribution(name)
        for f in dist.files or []:
            path = f.locate()
            if os.path.isfile(path):
                site += os.path.getsize(path)
    stdlib = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})["stdlib"]
    interpreter = 0
    for dirpath, dirnames, filenames in os.walk(stdlib):
        dirnames[:] = [d for d in dirnames if d not in ("site-packages", "test", "__pycache__")]
        interpreter += sum(os.path.getsize(os.path.join(dirpath, n)) for n in filenames)
    interpreter += os.path.getsize(os.path.realpath(sys.executable))
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    library = sysconfig.get_config_var("LDLIBRARY") or ""
    if libdir and library and os.path.isfile(os.path.join(libdir, library)):
        interpreter += os.path.getsize(os.path.join(libdir, library))
    return {"packages": packages, "site_packages_bytes": site, "interpreter_bytes": interpreter,
            "python": sys.version.split()[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--model", required=True)
    t.add_argument("--rows", required=True)
    t.add_argument("--n", type=int, default=100_000)
    t.add_argument("--repeats", type=int, default=11)
    c = sub.add_parser("cold")
    c.add_argument("--model", required=True)
    c.add_argument("--row", required=True)
    s = sub.add_parser("single")
    s.add_argument("--model", required=True)
    s.add_argument("--row", required=True)
    s.add_argument("--repeats", type=int, default=2000)
    h = sub.add_parser("handler")
    h.add_argument("--model", required=True)
    h.add_argument("--events", required=True)
    h.add_argument("--records", type=int, default=1)
    h.add_argument("--repeats", type=int, default=200)
    sub.add_parser("size")
    args = ap.parse_args()
    result = {"throughput": throughput, "cold": cold, "single": single, "handler": handler,
              "size": size}[args.mode](args)
    import catboost

    result["catboost_version"] = catboost.__version__
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
