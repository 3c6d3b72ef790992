"""The loan-grade model as a Python Lambda function: the usual way, with the controls it needs.

    lambda_handler(event, context)
        features = FeatureEngineering(input=event).feature_eng()
        PredictionStage(features).predict(feature_file="feature_set.json", model_file="model.json")

The contract is the Rust service's (see the root README): request `{"records": [...]}` (1 to
1000 loan applications), response `{"predictions": [{"id"?, "probability", "class",
"model_version", "model_sha256"}]}` in request order, and errors raised as exceptions whose class
names are the `errorType`s `InvalidPayload`, `InvalidRecord`, `BatchTooLarge` (and
`PredictionFailed`, a bug) with an `errorMessage` that starts with the JSON path of the problem.

Feature engineering is the training-time reference, `models/features.py` (copied next to this
file in the image), not a copy of it: the features the model sees in production are the ones it
was trained on, and its validation reports JSON paths. The model directory ($MODEL_DIR, default
`model/` next to this file) holds `model.json` (CatBoost's JSON export, the file whose sha256
the goldens record), `feature_set.json` and `metadata.json`; all three are read once, at import,
and checked against each other and against `features.py`: a mismatch fails the init, before
any request is served.

What differs from the Rust service: awslambdaric parses the body (simplejson) before the
handler runs, so a body that is not JSON (also invalid UTF-8, `NaN`/`Infinity` literals, a
trailing comma, trailing bytes, nesting deeper than Python's recursion limit) is answered
`Runtime.UnmarshalError` without reaching this code, and a duplicate key is not seen (the last
one wins). `1e400` (parsed as infinity), integers too long for a double and lone surrogates do
reach the handler and are refused at their path. `-0` arrives as the integer 0 and is accepted
where a count is expected (serde_json reads it as a float and refuses it there).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from typing import Any

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier, CatBoostError, Pool

import features as reference  # models/features.py, the training-time feature engineering

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.environ.get("MODEL_DIR", os.path.join(HERE, "model"))
MAX_RECORDS = 1000


class InvalidPayload(Exception):
    """The body is not the shape of a request: wrong type, unknown or missing field, no records."""


class InvalidRecord(Exception):
    """A well-formed record breaks a value rule (a negative amount, a string over its limit)."""


class BatchTooLarge(Exception):
    """More than MAX_RECORDS records in one request."""


class PredictionFailed(Exception):
    """The model failed on valid features: a bug, never the caller's fault."""


class ModelMismatch(Exception):
    """The model directory is not one export that belongs to this features.py. Raised at import,
    so the init fails (the error awslambdaric reports has this errorType) and nothing is served."""


# ---------------------------------------------------------------------------------------------
# Artifacts, loaded once per process (at import, see the end of this file)


class FeatureSet:
    """`feature_set.json`: the model's columns, in order, with their kinds."""

    def __init__(self, doc: dict[str, Any]):
        self.names = [f["name"] for f in doc["features"]]
        kinds = [f["kind"] for f in doc["features"]]
        if list(zip(self.names, kinds)) != reference.FEATURES:
            raise ModelMismatch("feature_set.json does not match features.py FEATURES: the image "
                                "mixes a model and a feature engineering that do not belong together")
        if doc["feature_engineering"] != reference.FEATURE_ENGINEERING_ID:
            raise ModelMismatch(f"feature_set.json is for {doc['feature_engineering']}, "
                                f"features.py is {reference.FEATURE_ENGINEERING_ID}")
        self.categorical = [i for i, kind in enumerate(kinds) if kind == reference.CATEGORICAL]
        self.positive_class = doc["target"]["positive_class"]


class Model:
    """The CatBoost model and the identity every prediction carries."""

    def __init__(self, path: str, metadata: dict[str, Any]):
        with open(path, "rb") as f:
            sha256 = hashlib.sha256(f.read()).hexdigest()
        if sha256 != metadata["model_sha256"]:
            raise ModelMismatch(f"{os.path.basename(path)} has sha256 {sha256} but metadata.json says "
                                f"{metadata['model_sha256']}: the model directory mixes two exports")
        self.catboost = CatBoostClassifier()
        self.catboost.load_model(path, format="json")  # the export the goldens' sha256 names
        self.sha256 = sha256
        self.version = metadata["model_version"]


def _read_json(name: str) -> Any:
    with open(os.path.join(MODEL_DIR, name), encoding="utf-8") as f:
        return json.load(f)


@functools.cache
def load_feature_set(feature_file: str) -> FeatureSet:
    return FeatureSet(_read_json(feature_file))


@functools.cache
def load_model(model_file: str, feature_file: str) -> Model:
    model = Model(os.path.join(MODEL_DIR, model_file), _read_json("metadata.json"))
    names = load_feature_set(feature_file).names
    if list(model.catboost.feature_names_) != names:
        raise ModelMismatch(f"{model_file} and {feature_file} disagree on the feature columns")
    return model


# ---------------------------------------------------------------------------------------------
# Input controls


def _records(event: Any) -> list[dict[str, Any]]:
    """The records of a request, with their shape checked (`InvalidPayload`), then the batch size
    (`BatchTooLarge`), then each record's values (`InvalidRecord`): the Rust service's order."""
    if not isinstance(event, dict):
        raise InvalidPayload(f".: invalid type: {reference.describe(event)}, "
                             "expected an object with a `records` list")
    records = None
    for key, value in event.items():  # document order, as serde reports the first problem
        if key != "records":
            raise InvalidPayload(f"{key}: unknown field `{key}`, expected `records`")
        if not isinstance(value, list):
            raise InvalidPayload(f"records: invalid type: {reference.describe(value)}, "
                                 "expected a sequence")
        records = [_read(record, i) for i, record in enumerate(value)]
    if records is None:
        raise InvalidPayload(".: missing field `records`")
    if not records:
        raise InvalidPayload("records: at least one record is required")
    if len(records) > MAX_RECORDS:
        raise BatchTooLarge(f"records: {len(records)} records in one request; at most {MAX_RECORDS} "
                            "are accepted, split the batch")
    for i, record in enumerate(records):
        try:
            reference.check_values(record)
        except reference.InvalidRecord as e:
            raise InvalidRecord(_at(i, e)) from None
    return records


def _read(record: Any, index: int) -> dict[str, Any]:
    try:
        return reference.read_record(record)
    except reference.InvalidRecord as e:
        raise InvalidPayload(_at(index, e)) from None


def _at(index: int, error: reference.InvalidRecord) -> str:
    path = f"records[{index}]" if error.path == "." else f"records[{index}].{error.path}"
    return f"{path}: {error.message}"


# ---------------------------------------------------------------------------------------------
# The two stages


class FeatureEngineering:
    """Raw event -> one row of model features per record (plus the record's `id`)."""

    def __init__(self, input: Any):  # noqa: A002 (the usual signature)
        self.input = input

    def feature_eng(self) -> pd.DataFrame:
        records = _records(self.input)
        rows = [reference.transform(record) for record in records]
        frame = pd.DataFrame(rows, columns=reference.FEATURE_NAMES)
        frame.insert(0, "id", [record["id"] for record in records])
        return frame


class PredictionStage:
    """Feature rows -> predictions, with the model loaded at import."""

    def __init__(self, features: pd.DataFrame):
        self.features = features

    def predict(self, feature_file: str, model_file: str) -> list[dict[str, Any]]:
        feature_set = load_feature_set(feature_file)
        model = load_model(model_file, feature_file)
        pool = Pool(self.features[feature_set.names], cat_features=feature_set.categorical)
        try:
            proba = model.catboost.predict_proba(pool)
            classes = model.catboost.predict(pool, prediction_type="Class")
        except CatBoostError as e:
            raise PredictionFailed(f"records: prediction failed: {e}") from None
        positive = list(model.catboost.classes_).index(feature_set.positive_class)
        out = pd.DataFrame({
            "id": self.features["id"],
            "probability": proba[:, positive],
            "class": classes,
        })
        out["model_version"] = model.version
        out["model_sha256"] = model.sha256
        return [_json_safe(p) for p in out.to_dict("records")]


def _json_safe(prediction: dict[str, Any]) -> dict[str, Any]:
    """A prediction as plain JSON: pandas writes a missing id as NaN (awslambdaric would send the
    bare token `NaN`, which is not JSON); a record without an id gets no `id`."""
    clean: dict[str, Any] = {}
    for key, value in prediction.items():
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            if key == "id":
                continue
            raise PredictionFailed(f"records: prediction failed: {key} is missing")
        if isinstance(value, np.generic):
            value = value.item()
        clean[key] = value
    if not math.isfinite(clean["probability"]):
        raise PredictionFailed(f"records: prediction failed: probability {clean['probability']}")
    return clean


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    features = FeatureEngineering(input=event).feature_eng()
    predictions = PredictionStage(features).predict(feature_file="feature_set.json",
                                                    model_file="model.json")
    return {"predictions": predictions}


# Load and check the artifacts once, at import: Lambda's init phase, not the first request.
load_model("model.json", "feature_set.json")
