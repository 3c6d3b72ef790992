"""Tests of the handler without the runtime: the goldens, the malformed corpus, the NaN trap.

    models/.venv/bin/python -m unittest discover -s examples/python-function
    (or, in the function's own Poetry environment: poetry run pytest)

The handler is called as awslambdaric calls it, with the body already parsed by simplejson
(`simplejson.loads`; without simplejson, as in models/.venv, the standard library's json with
`NaN`/`Infinity` refused, which is what simplejson 4 does). A body that does not parse is
answered by the runtime itself (`Runtime.UnmarshalError`), never by the handler.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "models")]  # the image has both in /var/task
os.environ.setdefault("MODEL_DIR", os.path.join(ROOT, "models", "artifacts"))

import handler  # noqa: E402

try:
    from simplejson import loads as runtime_loads
except ImportError:
    def runtime_loads(body: bytes):
        def refuse(name: str):
            raise ValueError(f"{name} is not JSON")
        return json.loads(body, parse_constant=refuse)

TOLERANCE = 1e-9

# Malformed payloads that awslambdaric refuses before the handler runs.
RUNTIME_REFUSES = {"empty-body", "whitespace-body", "not-json", "single-quotes", "truncated-json",
                   "trailing-comma", "invalid-utf8-body", "invalid-utf8-in-string", "nan-literal",
                   "deep-nesting-10k"}
# Payloads the handler answers because the parser hides what is wrong with them (the last of
# two duplicate keys wins).
PARSER_HIDES = {"duplicate-field"}


def golden() -> tuple[list[dict], dict[str, dict], dict]:
    with open(os.path.join(ROOT, "golden", "inputs.jsonl"), encoding="utf-8") as f:
        inputs = [json.loads(line) for line in f]
    with open(os.path.join(ROOT, "golden", "expected.jsonl"), encoding="utf-8") as f:
        expected = {e["case_id"]: e for e in map(json.loads, f)}
    with open(os.path.join(ROOT, "golden", "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    return inputs, expected, manifest


def invoke(event):
    """The handler's answer as the runtime would send it: the response, or (errorType,
    errorMessage). The response must be valid JSON."""
    try:
        response = handler.lambda_handler(event, None)
    except Exception as e:  # noqa: BLE001 - the runtime reports any exception
        return None, (type(e).__name__, str(e))
    json.dumps(response, allow_nan=False)  # raises on NaN/Infinity
    return response, None


class Golden(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inputs, cls.expected, cls.manifest = golden()

    def check(self, case, prediction):
        want = self.expected[case["case_id"]]["prediction"]
        self.assertLessEqual(abs(prediction["probability"] - want["probability"]), TOLERANCE, case["case_id"])
        self.assertEqual(prediction["class"], want["class"], case["case_id"])
        self.assertEqual(prediction.get("id"), case["event"].get("id"), case["case_id"])
        self.assertEqual("id" in prediction, case["event"].get("id") is not None, case["case_id"])
        self.assertEqual(prediction["model_sha256"], self.manifest["model_sha256"])
        self.assertEqual(prediction["model_version"], self.manifest["model_version"])

    def test_every_case_alone(self):
        for case in self.inputs:
            response, error = invoke({"records": [case["event"]]})
            self.assertIsNone(error, case["case_id"])
            self.assertEqual(len(response["predictions"]), 1)
            self.check(case, response["predictions"][0])

    def test_all_cases_in_one_batch(self):
        response, error = invoke({"records": [c["event"] for c in self.inputs]})
        self.assertIsNone(error)
        self.assertEqual(len(response["predictions"]), len(self.inputs))
        for case, prediction in zip(self.inputs, response["predictions"]):
            self.check(case, prediction)

    def test_records_without_id_get_no_id_not_nan(self):
        events = [c["event"] for c in self.inputs[:3]]
        without = [{k: v for k, v in e.items() if k != "id"} for e in events]
        for batch in ([events[0], without[1], events[2]], without, [dict(without[0], id=None)]):
            response, error = invoke({"records": batch})
            self.assertIsNone(error)
            for record, prediction in zip(batch, response["predictions"]):
                self.assertEqual(prediction.get("id"), record.get("id"))
                self.assertEqual("id" in prediction, record.get("id") is not None)
                self.assertIs(type(prediction["probability"]), float)
                self.assertIs(type(prediction["class"]), int)


def _steps(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        key, _, rest = part.partition("[")
        if key:
            out.append(key)
        out += [int(i) for i in re.findall(r"(\d+)\]", "[" + rest if rest else "")]
    return out


def _edit(request, path, value=None, remove=False):
    *parents, last = _steps(path)
    node = request
    for step in parents:
        node = node[step]
    if remove:
        del node[last]
    else:
        node[last] = value


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def materialise(base, body) -> bytes | None:
    """The body of a case of golden/malformed/cases.json, as the gate builds it."""
    if "text" in body:
        return body["text"].encode("utf-8")
    if "base64" in body:
        return base64.b64decode(body["base64"])
    if "json" in body:
        return _dumps(body["json"]).encode("utf-8")
    request = copy.deepcopy(base)
    if "edits" in body:
        for edit in body["edits"]:
            if "set" in edit:
                _edit(request, edit["set"]["path"], edit["set"]["value"])
            else:
                _edit(request, edit["remove"]["path"], remove=True)
        return _dumps(request).encode("utf-8")
    gen = body["generate"]
    kind = gen["kind"]
    if kind == "deep_nesting":
        return b'{"records":' + b"[" * gen["depth"] + b"]" * gen["depth"] + b"}"
    if kind == "many_records":
        request["records"] = [request["records"][0]] * gen["count"]
        return _dumps(request).encode("utf-8")
    if kind == "long_string":
        text = (gen["fill"] * (gen["bytes"] // len(gen["fill"]) + 1)).encode("utf-8")[:gen["bytes"]]
        _edit(request, gen["path"], text.decode("utf-8", "ignore"))
        return _dumps(request).encode("utf-8")
    literal = "1" + "0" * (gen["digits"] - 1) if kind == "long_number" else gen["literal"]
    _edit(request, gen["path"], "@@splice@@")
    return _dumps(request).replace('"@@splice@@"', literal, 1).encode("utf-8")


class Malformed(unittest.TestCase):
    def test_corpus(self):
        with open(os.path.join(ROOT, "golden", "malformed", "cases.json"), encoding="utf-8") as f:
            corpus = json.load(f)
        answered = 0
        for case in corpus["cases"]:
            if case.get("lambda_rejects"):
                continue
            with self.subTest(case["name"]):
                body = materialise(corpus["base_request"], case["body"])
                try:
                    event = runtime_loads(body)
                except (ValueError, RecursionError):
                    self.assertIn(case["name"], RUNTIME_REFUSES)
                    continue
                self.assertNotIn(case["name"], RUNTIME_REFUSES)
                response, error = invoke(event)
                if case["name"] in PARSER_HIDES:
                    self.assertIsNone(error)
                    continue
                self.assertIsNotNone(error, f"answered {response}")
                error_type, message = error
                self.assertEqual(error_type, case["expect"]["error_type"], message)
                self.assertTrue(message.startswith(case["expect"]["message_starts_with"]), message)
                answered += 1
        self.assertGreater(answered, 40)

    def test_the_payloads_a_tutorial_handler_crashes_on(self):
        for event, message in [({}, ".: missing field `records`"),
                               (None, ".: invalid type: null, expected an object with a `records` list"),
                               ([], ".: invalid type: sequence, expected an object with a `records` list"),
                               ({"records": []}, "records: at least one record is required"),
                               ({"records": [None]}, "records[0]: invalid type: null, expected a loan application object")]:
            self.assertEqual(invoke(event)[1], ("InvalidPayload", message))

    def test_shape_errors_come_before_the_batch_size_and_values(self):
        record = golden()[0][0]["event"]
        negative = copy.deepcopy(record)
        negative["loan"]["amount"] = -1
        unknown = dict(record, extra=1)
        self.assertEqual(invoke({"records": [negative, unknown]})[1][0], "InvalidPayload")
        self.assertEqual(invoke({"records": [negative] * 1001})[1][0], "BatchTooLarge")
        self.assertEqual(invoke({"records": [record, negative]})[1],
                         ("InvalidRecord", "records[1].loan.amount: must not be negative"))


class Init(unittest.TestCase):
    def test_a_model_that_is_not_the_one_metadata_names_is_refused(self):
        with self.assertRaisesRegex(handler.ModelMismatch, "mixes two exports"):
            handler.Model(os.path.join(os.environ["MODEL_DIR"], "model.json"),
                          {"model_sha256": "0" * 64, "model_version": "x"})

    def test_a_feature_set_that_is_not_features_py_is_refused(self):
        with open(os.path.join(os.environ["MODEL_DIR"], "feature_set.json"), encoding="utf-8") as f:
            doc = json.load(f)
        doc["features"][0], doc["features"][1] = doc["features"][1], doc["features"][0]
        with self.assertRaisesRegex(handler.ModelMismatch, "does not match features.py"):
            handler.FeatureSet(doc)


if __name__ == "__main__":
    unittest.main()
