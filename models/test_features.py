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
                    path = None
                except features.InvalidRecord as e:
                    path = e.path
                self.assertEqual(path, case["path"], case["json"][:300])


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
