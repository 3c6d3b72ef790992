"""Tests of the reference feature engineering (run: models/.venv/bin/python -m unittest
discover -s models). The Rust side runs the same validation cases in
service/tests/golden_features.rs."""

from __future__ import annotations

import json
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import features  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class ValidationCases(unittest.TestCase):
    def test_paths_match_the_contract(self) -> None:
        with open(os.path.join(HERE, "validation_cases.jsonl"), encoding="utf-8") as f:
            cases = [json.loads(line) for line in f if line.strip()]
        self.assertGreater(len(cases), 30)
        for case in cases:
            with self.subTest(case["name"]):
                try:
                    features.parse_and_transform(case["json"])
                    path, message = None, None
                except features.InvalidRecord as e:
                    path, message = e.path, e.message
                self.assertEqual(path, case["path"], case["json"][:300])
                if "message" in case:
                    self.assertEqual(message, case["message"])


TITLE = '"title": "global config engineer "'  # in the base record


def _base() -> str:
    with open(os.path.join(HERE, "validation_cases.jsonl"), encoding="utf-8") as f:
        case = json.loads(f.readline())
    assert case["name"] == "valid-base"
    return case["json"]


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new, 1)


def _error(text: str) -> tuple[str, str] | None:
    try:
        features.parse_and_transform(text)
    except features.InvalidRecord as e:
        return e.path, e.message
    return None


class Limits(unittest.TestCase):
    """Length limits: code points (len), `longer than N characters` / `more than N entries`."""

    WIDE = "\u00e9\U0001F600\u62a4"  # 2, 4, 3 UTF-8 bytes; U+1F600 is 2 UTF-16 units

    def wide(self, n: int) -> str:
        return (self.WIDE * n)[:n]

    def test_limits(self) -> None:
        self.assertEqual(features.MAX_ID_CHARS, 128)
        self.assertEqual(features.MAX_TITLE_CHARS, 2048)
        self.assertEqual(features.MAX_TEXT_CHARS, 128)
        self.assertEqual(features.MAX_TRADELINES, 10_000)

    def test_each_string_at_and_over_its_limit(self) -> None:
        base = _base()
        fields = [
            ("id", '"id": "app-000001"', '"id": "{}"', 128),
            ("applicant.employment.title", TITLE, '"title": "{}"', 2048),
            ("applicant.home_ownership", '"home_ownership": "MORTGAGE"', '"home_ownership": "{}"', 128),
            ("applicant.state", '"state": "NJ"', '"state": "{}"', 128),
            ("applicant.income.verification", '"verification": "Verified"', '"verification": "{}"', 128),
            ("joint.verification", '"verification": null', '"verification": "{}"', 128),
            ("loan.purpose", '"purpose": "moving"', '"purpose": "{}"', 128),
        ]
        for path, old, new, limit in fields:
            with self.subTest(path):
                at = self.wide(limit)
                self.assertEqual(len(at), limit)
                self.assertGreater(len(at.encode("utf-8")), limit)  # bytes != characters
                self.assertIsNone(_error(_edit(base, old, new.format(at))))
                over = self.wide(limit + 1)
                self.assertEqual(_error(_edit(base, old, new.format(over))),
                                 (path, f"longer than {limit} characters"))
                # ASCII: exactly at the limit in bytes too
                self.assertIsNone(_error(_edit(base, old, new.format("a" * limit))))
                self.assertEqual(_error(_edit(base, old, new.format("a" * (limit + 1))))[0], path)

    def test_code_points_not_utf16_units_or_graphemes(self) -> None:
        base = _base()
        pairs = "\\ud83d\\ude00" * 128  # escaped surrogate pairs: 128 code points
        self.assertIsNone(_error(_edit(base, '"id": "app-000001"', f'"id": "{pairs}"')))
        self.assertEqual(
            _error(_edit(base, '"id": "app-000001"', f'"id": "x{pairs}"')),
            ("id", "longer than 128 characters"))
        self.assertIsNone(_error(_edit(base, TITLE, '"title": "' + "e\u0301" * 1024 + '"')))
        self.assertEqual(_error(_edit(base, TITLE, '"title": "' + "e\u0301" * 1024 + 'e"'))[0],
                         "applicant.employment.title")

    def test_golden_long_title_is_valid(self) -> None:
        title = "senior " * 150 + "manager"
        self.assertEqual(len(title), 1057)
        self.assertIsNone(_error(_edit(_base(), TITLE, f'"title": "{title}"')))

    def test_megabyte_title_and_100kb_id(self) -> None:
        base = _base()
        self.assertEqual(
            _error(_edit(base, TITLE, '"title": "' + "engineer " * 111_112 + '"')),  # 1 MB
            ("applicant.employment.title", "longer than 2048 characters"))
        self.assertEqual(_error(_edit(base, '"id": "app-000001"', '"id": "' + "x" * 100_000 + '"')),
                         ("id", "longer than 128 characters"))

    def test_tradelines(self) -> None:
        record = features.validate(features.loads_strict(_base()))
        line = {"kind": "other", "open": True, "carries_balance": None}
        record["tradelines"] = [line] * 10_000
        features.validate(record)
        record["tradelines"] = [line] * 10_001
        with self.assertRaises(features.InvalidRecord) as e:
            features.validate(record)
        self.assertEqual((e.exception.path, e.exception.message),
                         ("tradelines", "more than 10000 entries"))
        # a shape error in an entry comes first; any earlier value rule comes first
        record["tradelines"] = [line] * 10_000 + [{"kind": "boat", "open": True}]
        with self.assertRaises(features.InvalidRecord) as e:
            features.validate(record)
        self.assertEqual(e.exception.path, "tradelines[10000].kind")
        record["tradelines"] = [line] * 10_001
        record["credit_history"]["total_credit_limit"] = -1.0
        with self.assertRaises(features.InvalidRecord) as e:
            features.validate(record)
        self.assertEqual(e.exception.path, "credit_history.total_credit_limit")

    def test_order_among_value_rules(self) -> None:
        base = _base()
        long = "x" * 129
        both = _edit(_edit(base, '"id": "app-000001"', f'"id": "{long}"'),
                     '"annual": 90000.0', '"annual": -1')
        self.assertEqual(_error(both)[0], "id")
        both = _edit(_edit(base, '"annual": 90000.0', '"annual": -1'),
                     '"verification": "Verified"', f'"verification": "{long}"')
        self.assertEqual(_error(both)[0], "applicant.income.annual")
        both = _edit(_edit(base, '"term_months": 60', '"term_months": 0'),
                     '"purpose": "moving"', f'"purpose": "{long}"')
        self.assertEqual(_error(both)[0], "loan.term_months")
        both = _edit(_edit(base, '"purpose": "moving"', f'"purpose": "{long}"'),
                     '"never_delinquent_percent": 92.9', '"never_delinquent_percent": 150')
        self.assertEqual(_error(both)[0], "loan.purpose")


class Rules(unittest.TestCase):
    def test_ratio(self) -> None:
        self.assertTrue(math.isnan(features.ratio(1.0, 0.0)))
        self.assertTrue(math.isnan(features.ratio(1e308, 1e-308)))
        self.assertTrue(math.isnan(features.ratio(math.nan, 2.0)))
        self.assertEqual(features.ratio(1.0, 3.0), 1.0 / 3.0)

    def test_normalize_title(self) -> None:
        n = features.normalize_title
        self.assertEqual(n("  Sr. Manager/Lead - R&D "), "sr manager lead r d")
        self.assertEqual(n("\u212aitchen MGR"), "\u212aitchen mgr")
        self.assertEqual(n("\x1cnurse\x1f"), "nurse")
        self.assertEqual(n("truck\u3000driver"), "truck\u3000driver")
        self.assertEqual(n(" \t\r\n"), "")

    def test_negative_zero_is_zero(self) -> None:
        with open(os.path.join(HERE, "validation_cases.jsonl"), encoding="utf-8") as f:
            base = json.loads(f.readline())["json"]
        row = features.parse_and_transform(base.replace('"amount": 28000', '"amount": -0'))
        amount = row[features.FEATURE_NAMES.index("loan_amount")]
        self.assertEqual(math.copysign(1.0, amount), 1.0)

    def test_features_are_finite_or_nan(self) -> None:
        import events

        df = events.load().head(500)
        for ev in events.events(df):
            for (name, kind), v in zip(features.FEATURES, features.transform(features.validate(ev))):
                if kind == features.FLOAT:
                    self.assertIsInstance(v, float, name)
                    self.assertFalse(math.isinf(v), name)
                else:
                    self.assertIsInstance(v, str, name)


if __name__ == "__main__":
    unittest.main()
