"""Golden cases: training-time features and predictions that the Rust service must reproduce.

    models/.venv/bin/python models/golden.py make-inputs [--out golden/inputs.jsonl]
    models/.venv/bin/python models/golden.py predict --model-dir models/artifacts \\
        --inputs golden/inputs.jsonl --out DIR

`make-inputs` writes the cases (deterministic): held-out rows of the test split as events plus
hand-written edge cases. Each line is `{"case_id": ..., "tags": [...], "event": {...}}`; a few
events are written with non-default JSON spellings (`\\u` escapes, `-0`, exponents, long integer
literals) on purpose.

`predict` reads every line with the strict reader (`features.loads_strict`, mirroring
serde_json), computes the reference features, runs the training-time model (`model.cbm`) and
writes `DIR/expected.jsonl` and `DIR/manifest.json`. Output is byte-stable across reruns (no
timestamps; floats in shortest round-trip form; NaN as null). To refresh goldens after
retraining, predict into a scratch directory, review the diff, then copy the two files over
`golden/` (CI only ever checks, it never rewrites goldens).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events  # noqa: E402
import features  # noqa: E402
import train  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
N_REAL = 180

# ---------------------------------------------------------------------------------------------
# make-inputs


class Raw:
    """A JSON number spelled exactly as given (e.g. `-0`, `1E5`), spliced into the output."""

    def __init__(self, text: str):
        self.text = text


def _encode_event(event: Any, ensure_ascii: bool) -> str:
    raws: list[str] = []

    def swap(v: Any) -> Any:
        if isinstance(v, Raw):
            raws.append(v.text)
            return f"@@raw{len(raws) - 1}@@"
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        if isinstance(v, list):
            return [swap(x) for x in v]
        return v

    text = json.dumps(swap(event), ensure_ascii=ensure_ascii, allow_nan=False)
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@raw{i}@@"', raw, 1)
    return text


def _real_cases() -> list[dict[str, Any]]:
    df = events.load()
    _, test = events.split(len(df), train.SPLIT_SEED, train.TEST_FRACTION)
    rows = df.to_dict("records")
    step = len(test) / N_REAL
    picked = [test[int(i * step)] for i in range(N_REAL)]
    # Make sure the rarer shapes of the data are covered by real rows too.
    extra = [i for i in test if rows[i]["annual_income"] == 0.0][:3]
    extra += [i for i in test if rows[i]["application_type"] == "joint"
              and not isinstance(rows[i]["verification_income_joint"], str)][:2]
    cases = []
    for i in sorted(set(picked) | set(extra)):
        r = rows[i]
        ev = events.row_to_event(r)
        tags = ["real", "test_split"]
        if ev["joint"] is not None:
            tags.append("joint")
        if "employment" not in ev["applicant"]:
            tags.append("no_employment")
        if r["annual_income"] == 0.0:
            tags.append("zero_income")
        cases.append({"case_id": f"real-{int(r['rownames']):05d}", "tags": tags, "event": ev})
    return cases


def _base() -> dict[str, Any]:
    df = events.load()
    return events.row_to_event(df.iloc[0].to_dict())  # a complete individual application


def _edge_cases() -> list[dict[str, Any]]:
    base = _base()
    cases: list[dict[str, Any]] = []

    def case(case_id: str, tags: list[str], edit=None, ensure_ascii: bool = False) -> None:
        ev = copy.deepcopy(base)
        if edit is not None:
            ev = edit(ev) or ev
        cases.append({"case_id": f"edge-{case_id}", "tags": ["edge", *tags], "event": ev,
                      "_ensure_ascii": ensure_ascii})

    def with_title(title: Any):
        def edit(ev):
            ev["applicant"]["employment"]["title"] = title
        return edit

    def at(path: str, value: Any):
        def edit(ev):
            *parents, last = path.split(".")
            node = ev
            for p in parents:
                node = node[p]
            node[last] = value
        return edit

    def drop(*paths: str):
        def edit(ev):
            for path in paths:
                *parents, last = path.split(".")
                node = ev
                for p in parents:
                    node = node[p]
                del node[last]
        return edit

    def chain(*edits):
        def edit(ev):
            for e in edits:
                e(ev)
        return edit

    joint = {"annual_income": 150000.0, "verification": "Verified", "debt_to_income": 12.5}

    # --- missing optional fields: absent and null
    case("base", ["baseline"])
    optional = ["id", "joint", "applicant.employment", "applicant.income.debt_to_income",
                "credit_history.months_since_last_credit_inquiry",
                "credit_history.months_since_last_delinquency",
                "credit_history.months_since_90d_late", "credit_history.accounts_120d_past_due",
                "applicant.employment.title", "applicant.employment.length_years"]
    for p in optional:
        name = p.split(".")[-1]
        case(f"absent-{name}", ["missing", "absent"], drop(p))
        case(f"null-{name}", ["missing", "null"], at(p, None))
    case("all-optional-absent", ["missing", "absent"], drop(*optional[::-1][2:]))
    case("employment-empty-object", ["missing"], at("applicant.employment", {}))
    case("joint-verification-absent", ["missing", "joint"],
         at("joint", {"annual_income": 120000.0, "debt_to_income": 20.0}))
    case("joint-verification-null", ["missing", "joint"],
         at("joint", {"annual_income": 120000.0, "verification": None, "debt_to_income": 20.0}))

    # --- tradelines
    case("tradelines-empty", ["tradelines"], at("tradelines", []))
    case("tradelines-all-closed", ["tradelines"],
         at("tradelines", [{"kind": k, "open": False} for k in features.TRADELINE_KINDS]))
    case("tradelines-cards-no-balance-info", ["tradelines"],
         at("tradelines", [{"kind": "credit_card", "open": True}] * 3))
    case("tradelines-cards-balance-null", ["tradelines", "null"],
         at("tradelines", [{"kind": "credit_card", "open": True, "carries_balance": None}] * 2))
    case("tradelines-closed-cards-with-balance", ["tradelines"],
         at("tradelines", [{"kind": "credit_card", "open": False, "carries_balance": True}] * 4))
    case("tradelines-only-mortgages", ["tradelines"],
         at("tradelines", [{"kind": "mortgage", "open": True, "carries_balance": True}] * 3))
    case("tradelines-one-open-card", ["tradelines"],
         at("tradelines", [{"kind": "credit_card", "open": True, "carries_balance": False}]))
    case("tradelines-thousand", ["tradelines", "extreme"],
         at("tradelines", [{"kind": features.TRADELINE_KINDS[i % 4], "open": i % 3 == 0,
                            "carries_balance": i % 7 == 0} for i in range(1000)]))
    case("tradelines-key-order", ["tradelines", "key_order"],
         at("tradelines", [{"carries_balance": True, "open": True, "kind": "credit_card"},
                           {"open": False, "kind": "other"}]))

    # --- titles: empty, whitespace, ASCII punctuation, Python-only whitespace, unicode
    titles = {
        "empty": "",
        "spaces": "   ",
        "ascii-whitespace": " \t\r\n ",
        "punctuation-only": "...--//",
        "python-whitespace": "\x1cnurse\x1d\x1e\x1fmanager\x85",
        "nbsp": "registered\u00a0nurse",
        "ideographic-space": "truck\u3000driver",
        "line-separator": "lead\u2028teacher",
        "upper": "SENIOR MANAGER",
        "mixed-punct": "Sr. Manager/Lead - R&D",
        "hyphenated": "nurse-practitioner",
        "apostrophe": "teacher's aide",
        "digits": "rn2 driver",
        "trailing-space": "bus driver ",
        "control-chars": "driver\x00\x07\x7fteacher",
        "quotes-backslash": "\"chief\" \\ officer",
        "accents": "Café Manager",
        "non-ascii-upper": "ÉCOLE teacher",
        "combining": "e\u0301cole director",
        "precomposed": "\u00e9cole director",
        "sharp-s": "Straße Supervisor",
        "dotted-i": "\u0130stanbul Lead",
        "kelvin": "\u212aitchen manager",
        "ligature": "\ufb01nance director",
        "titlecase-digraph": "\u01c5 driver",
        "cjk": "护士",
        "cjk-mixed": "高级 Manager",
        "emoji": "🚚 driver",
        "emoji-zwj": "👨\u200d👩\u200d👧 owner",
        "rtl": "مدير manager",
        "fullwidth": "ＭＡＮＡＧＥＲ",
        "unseen": "quantum basket weaver",
        "long": "senior " * 150 + "manager",
        "many-words": " ".join(["lead"] * 40),
    }
    for name, title in titles.items():
        tags = ["title"]
        if any(ord(c) > 127 for c in title):
            tags.append("unicode")
        case(f"title-{name}", tags, with_title(title))
    case("title-escaped-unicode", ["title", "unicode", "escapes"],
         with_title("Caf\u00e9 \u62a4\u58eb 🚚 nurse"), ensure_ascii=True)

    # --- categories: unseen, odd spellings
    case("state-unseen", ["category", "unseen"], at("applicant.state", "ZZ"))
    case("state-lowercase", ["category", "unseen"], at("applicant.state", "nj"))
    case("state-empty", ["category", "unseen"], at("applicant.state", ""))
    case("state-emoji", ["category", "unseen", "unicode"], at("applicant.state", "🇺🇸"))
    case("state-nul", ["category", "unseen"], at("applicant.state", "N\u0000J"))
    case("purpose-unseen", ["category", "unseen"], at("loan.purpose", "space_travel"))
    case("purpose-accent", ["category", "unseen", "unicode"], at("loan.purpose", "caf\u00e9"))
    case("home-unseen", ["category", "unseen"], at("applicant.home_ownership", "OTHER"))
    case("home-trailing-space", ["category", "unseen"], at("applicant.home_ownership", "RENT "))
    case("verification-unseen", ["category", "unseen"],
         at("applicant.income.verification", "Self Declared"))
    case("term-unseen", ["category", "unseen"], at("loan.term_months", 48))
    case("term-one", ["category", "unseen"], at("loan.term_months", 1))
    case("id-unicode", ["id", "unicode"], at("id", "app-ünï-😀"))

    # --- joint applications
    case("joint", ["joint"], at("joint", dict(joint)))
    case("joint-zero-dti", ["joint", "division_by_zero"],
         chain(at("joint", dict(joint)), at("applicant.income.debt_to_income", 0.0)))
    case("joint-missing-individual-dti", ["joint", "missing"],
         chain(at("joint", dict(joint)), at("applicant.income.debt_to_income", None)))
    case("joint-zero-income", ["joint", "division_by_zero"],
         chain(at("joint", {**joint, "annual_income": 0.0}), at("applicant.income.annual", 0.0)))
    case("joint-huge", ["joint", "extreme"],
         at("joint", {"annual_income": 1e308, "verification": "Not Verified",
                      "debt_to_income": 1e308}))
    case("joint-unseen-verification", ["joint", "category", "unseen"],
         at("joint", {**joint, "verification": "Maybe"}))

    # --- extreme and oddly spelled numbers
    u32 = features.U32_MAX
    case("income-zero", ["extreme", "division_by_zero"], at("applicant.income.annual", 0.0))
    case("income-huge", ["extreme"], at("applicant.income.annual", 1e308))
    case("income-max-double", ["extreme"], at("applicant.income.annual", 1.7976931348623157e308))
    case("income-subnormal", ["extreme", "overflow"], at("applicant.income.annual", 5e-324))
    case("income-tiny", ["extreme", "overflow"], at("applicant.income.annual", 1e-300))
    case("income-smallest-normal", ["extreme"],
         at("applicant.income.annual", 2.2250738585072014e-308))
    case("loan-huge-income-tiny", ["extreme", "overflow"],
         chain(at("loan.amount", 1e308), at("applicant.income.annual", 0.5)))
    case("loan-zero", ["extreme"], at("loan.amount", 0))
    case("loan-fraction", ["extreme"], at("loan.amount", 0.30000000000000004))
    case("loan-third", ["extreme"],
         chain(at("loan.amount", 1.0), at("applicant.income.annual", 3.0)))
    case("credit-limit-zero", ["extreme", "division_by_zero"],
         at("credit_history.total_credit_limit", 0))
    case("credit-limit-zero-unused", ["extreme", "division_by_zero"],
         chain(at("credit_history.total_credit_limit", 0),
               at("credit_history.total_credit_utilized", 0)))
    case("utilization-overflow", ["extreme", "overflow"],
         chain(at("credit_history.total_credit_limit", 1e-308),
               at("credit_history.total_credit_utilized", 1e308)))
    case("dti-huge", ["extreme"], at("applicant.income.debt_to_income", 1e308))
    case("counts-u32-max", ["extreme", "counts"],
         chain(*[at(f"credit_history.{k}", u32) for k in (
             "earliest_credit_line_year", "inquiries_last_12m",
             "months_since_last_credit_inquiry", "delinquencies_2y",
             "months_since_last_delinquency", "months_since_90d_late",
             "public_record_bankruptcies", "tax_liens", "collections_last_12m",
             "historical_failed_to_pay", "accounts_opened_24m", "accounts_120d_past_due")],
               at("applicant.employment.length_years", u32), at("loan.term_months", u32)))
    case("counts-zero", ["extreme", "counts"],
         chain(*[at(f"credit_history.{k}", 0) for k in (
             "earliest_credit_line_year", "inquiries_last_12m", "delinquencies_2y",
             "public_record_bankruptcies", "tax_liens", "collections_last_12m",
             "historical_failed_to_pay", "accounts_opened_24m")],
               at("applicant.employment.length_years", 0)))
    case("never-delinquent-bounds", ["extreme"],
         at("credit_history.never_delinquent_percent", 100))
    case("int-above-2pow53", ["extreme", "rounding"], at("loan.amount", 2**53 + 1))
    case("int-above-u64", ["extreme", "rounding"], at("loan.amount", 2**64 + 12345))
    case("int-300-digits", ["extreme", "rounding"], at("applicant.income.annual", 10**300 + 7))
    case("int-max-double", ["extreme", "rounding"],
         at("applicant.income.annual", int(1.7976931348623157e308)))
    case("int-rounds-to-max-double", ["extreme", "rounding"],
         at("applicant.income.annual", 2**1024 - 2**971 - 1))
    case("float-halfway-rounding", ["extreme", "rounding"],
         at("applicant.income.annual", Raw("9007199254740993.0")))
    case("float-long-mantissa", ["extreme", "rounding"],
         at("applicant.income.annual", Raw("0.1000000000000000055511151231257827021181583404541015625")))
    case("float-underflow-to-zero", ["extreme", "rounding"],
         at("applicant.income.debt_to_income", Raw("1e-400")))
    case("negative-zero-int", ["extreme", "negative_zero"], at("loan.amount", Raw("-0")))
    case("negative-zero-float", ["extreme", "negative_zero"],
         chain(at("applicant.income.annual", Raw("-0.0")), at("loan.amount", Raw("-0e5"))))
    case("exponent-spellings", ["extreme", "spelling"],
         chain(at("applicant.income.annual", Raw("9E4")),
               at("loan.amount", Raw("2.8e+4")),
               at("credit_history.total_credit_limit", Raw("7079500E-2"))))
    case("integers-as-floats-allowed", ["spelling"],
         chain(at("applicant.income.annual", 90000), at("credit_history.never_delinquent_percent", 93)))

    # --- key order does not matter
    def reverse_keys(ev):
        def rev(v):
            if isinstance(v, dict):
                return {k: rev(v[k]) for k in reversed(list(v))}
            if isinstance(v, list):
                return [rev(x) for x in v]
            return v
        return rev(ev)

    case("keys-reversed", ["key_order"], reverse_keys)
    return cases


def make_inputs(out: str) -> int:
    cases = _real_cases() + _edge_cases()
    ids = [c["case_id"] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    lines = []
    for c in cases:
        event_text = _encode_event(c["event"], c.get("_ensure_ascii", False))
        head = json.dumps({"case_id": c["case_id"], "tags": c["tags"]}, ensure_ascii=False)
        line = head[:-1] + ', "event": ' + event_text + "}"
        envelope = features.loads_strict(line)  # every golden event must be valid
        features.validate(_field(envelope, "event"))
        lines.append(line)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    real = sum(1 for c in cases if c["case_id"].startswith("real-"))
    print(f"wrote {len(lines)} cases ({real} real, {len(lines) - real} edge) to {out}")
    return 0


# ---------------------------------------------------------------------------------------------
# make-validation-cases: records both implementations must refuse at the same JSON path


def _validation_cases() -> list[dict[str, Any]]:
    base = _base()
    base["joint"] = {"annual_income": 150000.0, "verification": None, "debt_to_income": 12.5}
    base["tradelines"] = base["tradelines"][:2] + [{"kind": "mortgage", "open": True}]
    cases: list[dict[str, Any]] = []

    def text_of(ev: Any) -> str:
        return json.dumps(ev, ensure_ascii=False)

    def add(name: str, path: str | None, ev: Any = None, text: str | None = None,
            message: str | None = None) -> None:
        case = {"name": name, "json": text if text is not None else text_of(ev), "path": path}
        if message is not None:  # value rules: both sides must also give the same message
            case["message"] = message
        cases.append(case)

    def edited(fn) -> dict[str, Any]:
        ev = copy.deepcopy(base)
        fn(ev)
        return ev

    def put(path: str, value: Any):
        def fn(ev):
            *parents, last = path.split(".")
            node = ev
            for p in parents:
                node = node[int(p)] if isinstance(node, list) else node[p]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
        return fn

    def delete(path: str):
        def fn(ev):
            *parents, last = path.split(".")
            node = ev
            for p in parents:
                node = node[int(p)] if isinstance(node, list) else node[p]
            del node[last]
        return fn

    def replace_once(old: str, new: str, ev: Any = None) -> str:
        t = text_of(base if ev is None else ev)
        assert t.count(old) == 1, old
        return t.replace(old, new, 1)

    # valid records
    add("valid-base", None, base)
    add("valid-optional-null", None, edited(lambda ev: [put(p, None)(ev) for p in (
        "id", "joint", "applicant.employment", "applicant.income.debt_to_income",
        "credit_history.months_since_last_delinquency", "tradelines.0.carries_balance")]))
    add("valid-optional-absent", None, edited(lambda ev: [delete(p)(ev) for p in (
        "id", "joint", "applicant.employment", "applicant.income.debt_to_income",
        "credit_history.months_since_last_delinquency", "tradelines.0.carries_balance")]))
    add("valid-empty-employment", None, edited(put("applicant.employment", {})))
    add("valid-empty-tradelines", None, edited(put("tradelines", [])))
    add("valid-negative-zero-amount", None, text=replace_once('"amount": 28000', '"amount": -0'))
    add("valid-underflow", None, text=replace_once('"debt_to_income": 18.01', '"debt_to_income": 1e-400'))
    add("valid-escaped-emoji", None, text=replace_once('"state": "NJ"', '"state": "\\ud83d\\ude00"'))
    add("valid-zero-amount", None, edited(put("loan.amount", 0)))
    add("valid-percent-bounds", None, edited(put("credit_history.never_delinquent_percent", 100)))
    add("valid-u32-max", None, edited(put("credit_history.tax_liens", features.U32_MAX)))
    add("valid-big-int-amount", None, edited(put("loan.amount", 10**300)))

    # not an object
    for name, text in [("root-array", "[1, 2]"), ("root-string", '"x"'), ("root-null", "null"),
                       ("root-number", "3")]:
        add(name, ".", text=text)
    add("trailing-characters", ".", text=text_of(base) + " {}")

    # unknown fields: the field's own path
    for path in ["", "applicant", "applicant.employment", "applicant.income", "joint", "loan",
                 "credit_history", "tradelines.1"]:
        target = path + ".zz" if path else "zz"
        shown = target.replace(".1.", "[1].")
        add(f"unknown-field-{path or 'root'}", shown, edited(put(target, 1)))

    # missing required fields: the object that lacks it (root is ".")
    for field, obj in [("applicant", "."), ("loan", "."), ("tradelines", "."),
                       ("applicant.state", "applicant"), ("applicant.income", "applicant"),
                       ("applicant.income.annual", "applicant.income"),
                       ("applicant.income.verification", "applicant.income"),
                       ("joint.debt_to_income", "joint"), ("loan.purpose", "loan"),
                       ("credit_history.tax_liens", "credit_history"),
                       ("credit_history.total_collection_amount_ever", "credit_history"),
                       ("tradelines.0.open", "tradelines[0]"), ("tradelines.2.kind", "tradelines[2]")]:
        add(f"missing-{field}", obj, edited(delete(field)))

    # wrong types / values that do not fit
    wrong = [
        ("applicant.income.annual", "90000"), ("applicant.income.annual", True),
        ("applicant.income.annual", None), ("applicant.income.annual", [1]),
        ("applicant.income.debt_to_income", "18"), ("joint.annual_income", False),
        ("loan.term_months", 60.0), ("loan.term_months", -1), ("loan.term_months", 2**32),
        ("loan.term_months", True), ("loan.term_months", "60"), ("loan.term_months", None),
        ("credit_history.months_since_last_delinquency", 1.5),
        ("applicant.employment.length_years", -3), ("applicant.employment.title", 5),
        ("applicant.employment.title", ["a"]), ("applicant.state", None), ("applicant.state", 7),
        ("loan.purpose", {"a": 1}), ("id", 12), ("applicant", [1]), ("applicant", "x"),
        ("applicant", None), ("applicant.income", []), ("joint", [150000.0]), ("joint", 1),
        ("tradelines", None), ("tradelines", {}), ("tradelines", "x"), ("tradelines.1", [1]),
        ("tradelines.1", None), ("tradelines.0.open", 1), ("tradelines.0.open", "true"),
        ("tradelines.0.carries_balance", 0), ("tradelines.2.kind", "car"),
        ("tradelines.2.kind", "Credit_Card"), ("tradelines.2.kind", 3), ("tradelines.2.kind", None),
    ]
    for path, value in wrong:
        shown = path.replace(".0.", "[0].").replace(".1.", "[1].").replace(".2.", "[2].")
        if shown.endswith(".1"):
            shown = shown[:-2] + "[1]"
        add(f"wrong-{path}-{json.dumps(value)}", shown, edited(put(path, value)))
    add("u32-float-spelling", "loan.term_months", text=replace_once('"term_months": 60', '"term_months": 6e1'))
    add("u32-negative-zero", "loan.term_months", text=replace_once('"term_months": 60', '"term_months": -0'))

    # numbers and strings serde_json refuses while reading
    for name, literal in [("nan", "NaN"), ("infinity", "Infinity"), ("minus-infinity", "-Infinity"),
                          ("1e400", "1e400"), ("minus-1e400", "-1e400"), ("digits-400", "1" + "0" * 400),
                          ("digits-320", "1" + "0" * 320), ("digits-5000", "9" * 5000)]:
        add(f"number-{name}", "applicant.income.annual",
            text=replace_once('"annual": 90000.0', f'"annual": {literal}'))
        add(f"number-{name}-in-u32", "credit_history.tax_liens",
            text=replace_once('"tax_liens": 0', f'"tax_liens": {literal}'))
    add("surrogate-value", "applicant.state", text=replace_once('"state": "NJ"', '"state": "N\\ud800J"'))
    add("surrogate-low", "applicant.state", text=replace_once('"state": "NJ"', '"state": "\\udc00"'))
    add("surrogate-title", "applicant.employment.title",
        text=replace_once('"length_years": 3', '"length_years": 3, "title": "\\ud83d"',
                          edited(delete("applicant.employment.title"))))
    add("surrogate-key", "applicant.?", text=replace_once('"state": "NJ"', '"state": "NJ", "\\ud800": 1'))
    add("surrogate-in-u32", "loan.term_months", text=replace_once('"term_months": 60', '"term_months": "\\ud800"'))

    # duplicate fields: the object holding them
    add("duplicate-root", ".", text=replace_once('"id": "app-000001"', '"id": "app-000001", "id": null'))
    add("duplicate-applicant", "applicant", text=replace_once('"state": "NJ"', '"state": "NJ", "state": "NY"'))
    add("duplicate-after-null", "joint", text=replace_once('"verification": null', '"verification": null, "verification": "Verified"'))
    add("duplicate-tradeline", "tradelines[1]",
        text=text_of(edited(put("tradelines", [{"kind": "other", "open": True},
                                               {"kind": "other", "open": True}]))).replace(
            '{"kind": "other", "open": true}]', '{"kind": "other", "open": true, "open": false}]'))

    # the first error in document order wins; missing fields come last
    ev = {"zz": 1, "applicant": "bad"}
    add("order-unknown-before-type", "zz", text=json.dumps(ev))
    ev = {"applicant": "bad", "zz": 1}
    add("order-type-before-unknown", "applicant", text=json.dumps(ev))
    add("order-type-before-missing", "applicant.state",
        edited(lambda ev: (put("applicant.state", 1)(ev), delete("applicant.home_ownership")(ev))))
    add("order-lexical-before-type", "applicant.income.annual",
        text=replace_once('"annual": 90000.0', '"annual": 1e400',
                          edited(put("loan.term_months", "x"))))
    add("order-tradeline-before-later-field", "tradelines[1].kind",
        text=json.dumps({"tradelines": [{"kind": "other", "open": True}, {"kind": "x", "open": True}],
                         "applicant": 5}))
    add("order-shape-before-values", "loan.purpose",
        edited(lambda ev: (put("applicant.income.annual", -1.0)(ev), put("loan.purpose", 1)(ev))))

    # value rules (after the shape is valid), first failing rule wins
    for path, value in [("applicant.income.annual", -1.0), ("applicant.income.annual", -5e-324),
                        ("applicant.income.debt_to_income", -0.01), ("joint.annual_income", -1),
                        ("joint.debt_to_income", -1.0), ("loan.amount", -28000),
                        ("loan.term_months", 0),
                        ("credit_history.never_delinquent_percent", 100.0000001),
                        ("credit_history.never_delinquent_percent", -0.5),
                        ("credit_history.total_credit_limit", -1),
                        ("credit_history.total_credit_utilized", -1),
                        ("credit_history.total_collection_amount_ever", -1)]:
        message = ("must be positive" if path == "loan.term_months" else
                   "must be between 0 and 100" if path.endswith("never_delinquent_percent") else
                   "must not be negative")
        add(f"rule-{path}-{value}", path, edited(put(path, value)), message=message)
    add("rule-order", "applicant.income.annual",
        edited(lambda ev: (put("credit_history.total_credit_limit", -1)(ev),
                           put("applicant.income.annual", -1)(ev))), message="must not be negative")

    # length limits (value rules), counted in code points: not UTF-8 bytes, not UTF-16 units
    def chars(n: int) -> str:
        # 2, 4 and 3 bytes in UTF-8; U+1F600 is two UTF-16 units (one code point)
        return ("\u00e9\U0001F600\u62a4" * (n // 3 + 1))[:n]

    def too_long(limit: int) -> str:
        return f"longer than {limit} characters"

    limits = [("id", features.MAX_ID_CHARS),
              ("applicant.employment.title", features.MAX_TITLE_CHARS),
              ("applicant.home_ownership", features.MAX_TEXT_CHARS),
              ("applicant.state", features.MAX_TEXT_CHARS),
              ("applicant.income.verification", features.MAX_TEXT_CHARS),
              ("joint.verification", features.MAX_TEXT_CHARS),
              ("loan.purpose", features.MAX_TEXT_CHARS)]
    for path, limit in limits:
        add(f"len-{path}-at-limit", None, edited(put(path, chars(limit))))
        add(f"len-{path}-over-limit", path, edited(put(path, chars(limit + 1))),
            message=too_long(limit))
    title, max_title = "applicant.employment.title", features.MAX_TITLE_CHARS
    add("len-title-ascii-at-limit", None, edited(put(title, "a" * max_title)))
    add("len-title-ascii-over-limit", title, edited(put(title, "a" * (max_title + 1))),
        message=too_long(max_title))
    add("len-title-golden-1057", None, edited(put(title, "senior " * 150 + "manager")))
    # combining marks are code points of their own (e + U+0301 is two)
    add("len-title-combining-at-limit", None, edited(put(title, "e\u0301" * (max_title // 2))))
    add("len-title-combining-over-limit", title,
        edited(put(title, "e\u0301" * (max_title // 2) + "e")), message=too_long(max_title))
    # escaped surrogate pairs are one code point each
    pair = "\\ud83d\\ude00"
    add("len-id-escaped-pairs-at-limit", None,
        text=replace_once('"id": "app-000001"', f'"id": "{pair * features.MAX_ID_CHARS}"'))
    add("len-id-escaped-pairs-over-limit", "id",
        text=replace_once('"id": "app-000001"', f'"id": "{pair * (features.MAX_ID_CHARS + 1)}"'),
        message=too_long(features.MAX_ID_CHARS))
    add("len-state-empty", None, edited(put("applicant.state", "")))

    max_lines = features.MAX_TRADELINES
    add("len-tradelines-at-limit", None,
        edited(put("tradelines", [{"kind": "other", "open": True}] * max_lines)))
    add("len-tradelines-over-limit", "tradelines",
        edited(put("tradelines", [{"kind": "other", "open": True}] * (max_lines + 1))),
        message=f"more than {max_lines} entries")

    # length rules sit among the other value rules, in the declaration order of the fields
    over = {p: chars(limit + 1) for p, limit in limits}
    for name, path, edits in [
        ("id-before-annual", "id", [("id", over["id"]), ("applicant.income.annual", -1)]),
        ("title-before-state", title,
         [(title, over[title]), ("applicant.state", over["applicant.state"])]),
        ("home-before-state", "applicant.home_ownership",
         [("applicant.home_ownership", over["applicant.home_ownership"]),
          ("applicant.state", over["applicant.state"])]),
        ("annual-before-verification", "applicant.income.annual",
         [("applicant.income.annual", -1),
          ("applicant.income.verification", over["applicant.income.verification"])]),
        ("verification-before-dti", "applicant.income.verification",
         [("applicant.income.verification", over["applicant.income.verification"]),
          ("applicant.income.debt_to_income", -1)]),
        ("joint-income-before-joint-verification", "joint.annual_income",
         [("joint.annual_income", -1), ("joint.verification", over["joint.verification"])]),
        ("joint-verification-before-joint-dti", "joint.verification",
         [("joint.verification", over["joint.verification"]), ("joint.debt_to_income", -1)]),
        ("term-before-purpose", "loan.term_months",
         [("loan.term_months", 0), ("loan.purpose", over["loan.purpose"])]),
        ("purpose-before-credit-history", "loan.purpose",
         [("loan.purpose", over["loan.purpose"]),
          ("credit_history.never_delinquent_percent", 150)]),
    ]:
        add(f"order-len-{name}", path,
            edited(lambda ev, edits=edits: [put(p, v)(ev) for p, v in edits]))
    # value rules follow the declaration order even when the text orders the keys otherwise
    reordered = edited(lambda ev: (put("loan.purpose", over["loan.purpose"])(ev),
                                   put("applicant.state", over["applicant.state"])(ev)))
    reordered = {k: reordered[k] for k in reversed(list(reordered))}
    add("order-len-declaration-not-text-order", "applicant.state", reordered,
        message=too_long(features.MAX_TEXT_CHARS))
    # shape errors come before every value rule
    add("order-shape-before-len", "loan.zz",
        edited(lambda ev: (put(title, over[title])(ev), put("loan.zz", 1)(ev))))
    return cases


def make_validation_cases(out: str) -> int:
    cases = _validation_cases()
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate validation case names"
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} validation cases to {out}")
    return 0


# ---------------------------------------------------------------------------------------------
# predict


def _field(obj: features.JsonObject, key: str) -> Any:
    values = [v for k, v in obj.pairs if k == key]
    if len(values) != 1:
        raise SystemExit(f"inputs: expected exactly one `{key}` per line")
    return values[0]


def _json_value(v: float | str) -> float | str | None:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def predict(model_dir: str, inputs: str, out_dir: str) -> int:
    from catboost import CatBoostClassifier, Pool
    import catboost

    with open(os.path.join(model_dir, "metadata.json"), encoding="utf-8") as f:
        metadata = json.load(f)
    model_sha = sha256_file(os.path.join(model_dir, "model.json"))
    if model_sha != metadata["model_sha256"]:
        raise SystemExit(f"{model_dir}/model.json does not match metadata.json model_sha256")
    if sha256_file(os.path.join(model_dir, "model.cbm")) != metadata["model_cbm_sha256"]:
        raise SystemExit(f"{model_dir}/model.cbm does not match metadata.json model_cbm_sha256")
    with open(os.path.join(model_dir, "feature_set.json"), encoding="utf-8") as f:
        feature_set = json.load(f)
    names = [x["name"] for x in feature_set["features"]]
    kinds = [x["kind"] for x in feature_set["features"]]
    if list(zip(names, kinds)) != features.FEATURES:
        raise SystemExit("feature_set.json does not match models/features.py FEATURES")

    case_ids: list[str] = []
    rows: list[list[float | str]] = []
    with open(inputs, "rb") as f:
        for n, line in enumerate(f, 1):
            envelope = features.loads_strict(line)
            case_id = _field(envelope, "case_id")
            try:
                rows.append(features.transform(features.validate(_field(envelope, "event"))))
            except features.InvalidRecord as e:
                raise SystemExit(f"{inputs}:{n} ({case_id}): invalid event: {e}") from None
            case_ids.append(case_id)
    if len(set(case_ids)) != len(case_ids):
        raise SystemExit(f"{inputs}: duplicate case ids")

    model = CatBoostClassifier()
    model.load_model(os.path.join(model_dir, "model.cbm"), format="cbm")
    pool = Pool(data=rows, cat_features=features.CATEGORICAL_INDICES, feature_names=names)
    raw = model.predict(pool, prediction_type="RawFormulaVal")
    proba = model.predict_proba(pool)
    classes = model.predict(pool, prediction_type="Class")

    os.makedirs(out_dir, exist_ok=True)
    out_lines = []
    for i, case_id in enumerate(case_ids):
        record = {
            "case_id": case_id,
            "features": {name: _json_value(v) for name, v in zip(names, rows[i])},
            "prediction": {
                "raw": float(raw[i]),
                "probability": float(proba[i][1]),
                "class": int(classes[i]),
            },
        }
        out_lines.append(json.dumps(record, ensure_ascii=False, allow_nan=False))
    with open(os.path.join(out_dir, "expected.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out_lines) + "\n")
    manifest = {
        "cases": len(case_ids),
        "catboost_version": catboost.__version__,
        "feature_engineering": features.FEATURE_ENGINEERING_ID,
        "feature_set_sha256": sha256_file(os.path.join(model_dir, "feature_set.json")),
        "inputs_sha256": sha256_file(inputs),
        "model_sha256": model_sha,
        "model_version": metadata["model_version"],
        "predicted_with": "model.cbm",
    }
    train.dump_json(manifest, os.path.join(out_dir, "manifest.json"))
    print(f"wrote {len(case_ids)} cases to {out_dir}/expected.jsonl and manifest.json")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    mk = sub.add_parser("make-inputs", help="write the golden input cases")
    mk.add_argument("--out", default=os.path.join(ROOT, "golden", "inputs.jsonl"))
    vc = sub.add_parser("make-validation-cases",
                        help="write records both implementations must refuse at the same path")
    vc.add_argument("--out", default=os.path.join(HERE, "validation_cases.jsonl"))
    pr = sub.add_parser("predict", help="reference features + training-time predictions")
    pr.add_argument("--model-dir", required=True)
    pr.add_argument("--inputs", required=True)
    pr.add_argument("--out", required=True, help="directory for expected.jsonl and manifest.json")
    args = ap.parse_args()
    if args.command == "make-inputs":
        return make_inputs(args.out)
    if args.command == "make-validation-cases":
        return make_validation_cases(args.out)
    return predict(args.model_dir, args.inputs, args.out)


if __name__ == "__main__":
    sys.exit(main())
