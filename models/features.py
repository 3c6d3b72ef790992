"""Reference feature engineering for the loan-application model.

This module is the training-time definition of the model's input. The Rust service
(`service/src/features/`) reimplements it and must agree bit for bit, so everything here is
written to be reproducible in another language:

* Float math uses only `+ - * /` and comparisons (IEEE-exact everywhere). `ratio(a, b)` is NaN
  when `b == 0` or when the quotient overflows; every float feature is finite or NaN
  (NaN = missing).
* Text handling is ASCII-only and works on code points: no `str.lower()`, `str.split()` without
  a separator, `\\w`, `\\s` or `\\b` (their Unicode tables differ between Python and Rust).
* JSON is read by `loads_strict`, which mirrors serde_json: NaN/Infinity literals, numbers out
  of the f64 range and lone surrogates are refused, `-0` is a float, duplicate keys are kept so
  that validation can refuse them.
* `validate` mirrors the serde derive of `LoanApplication` (deny_unknown_fields, strict types,
  JSON objects only) plus the value rules of `check_values` (signs, ranges, length limits in
  code points), and reports the first error in document order with the same JSON path as
  `serde_path_to_error` (and, for value rules, the same message).

Public entry points: `FEATURES`, `FEATURE_ENGINEERING_ID`, `InvalidRecord`, `loads_strict`,
`validate` (= `read_record`, the shape, then `check_values`, the value rules), `describe`,
`transform`, `parse_and_transform`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

FEATURE_ENGINEERING_ID = "loan-application-features/v1"

FLOAT = "float"
CATEGORICAL = "categorical"

# Model column order. The Rust side refuses a feature_set.json that differs from its own list.
FEATURES: list[tuple[str, str]] = [
    ("annual_income", FLOAT),
    ("debt_to_income", FLOAT),
    ("emp_length_years", FLOAT),
    ("loan_amount", FLOAT),
    ("loan_to_income", FLOAT),
    ("is_joint", FLOAT),
    ("joint_annual_income", FLOAT),
    ("joint_to_individual_dti", FLOAT),
    ("earliest_credit_line_year", FLOAT),
    ("inquiries_last_12m", FLOAT),
    ("months_since_last_credit_inquiry", FLOAT),
    ("delinquencies_2y", FLOAT),
    ("months_since_last_delinquency", FLOAT),
    ("derogatory_marks", FLOAT),
    ("accounts_opened_24m", FLOAT),
    ("total_credit_limit", FLOAT),
    ("credit_utilization", FLOAT),
    ("tradelines_total", FLOAT),
    ("tradelines_open_share", FLOAT),
    ("credit_card_count", FLOAT),
    ("credit_card_balance_share", FLOAT),
    ("mortgage_count", FLOAT),
    ("title_length", FLOAT),
    ("title_word_count", FLOAT),
    ("title_senior", FLOAT),
    ("title_medical", FLOAT),
    ("title_driver", FLOAT),
    ("title_teacher", FLOAT),
    ("emp_title_norm", CATEGORICAL),
    ("state", CATEGORICAL),
    ("home_ownership", CATEGORICAL),
    ("income_verification", CATEGORICAL),
    ("joint_income_verification", CATEGORICAL),
    ("loan_purpose", CATEGORICAL),
    ("term", CATEGORICAL),
]
FEATURE_NAMES = [name for name, _ in FEATURES]
CATEGORICAL_INDICES = [i for i, (_, kind) in enumerate(FEATURES) if kind == CATEGORICAL]

# Categorical value used when a categorical input is missing (or a title normalises to nothing).
NONE_CATEGORY = "(none)"

NAN = math.nan
U32_MAX = 4_294_967_295

# Length limits (value rules, see `_semantic`), in code points (`len`), not bytes.
MAX_ID_CHARS = 128  # id
MAX_TITLE_CHARS = 2048  # applicant.employment.title
MAX_TEXT_CHARS = 128  # every other string: categories and verification statuses
MAX_TRADELINES = 10_000  # entries of tradelines

# ---------------------------------------------------------------------------------------------
# Strict JSON


class InvalidRecord(ValueError):
    """A record that the service refuses; `path` uses serde_path_to_error's format."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class JsonObject:
    """A JSON object as parsed: its key/value pairs in document order, duplicates kept."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]):
        self.pairs = pairs


class _BadNumber:
    """A JSON number serde_json refuses wherever it appears (NaN/Infinity, too many digits)."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


def _parse_constant(name: str) -> _BadNumber:
    return _BadNumber(f"`{name}` is not JSON (expected value)")


def _parse_int(text: str) -> Any:
    if text == "-0":
        return -0.0  # serde_json reads `-0` as the float -0.0
    if len(text) > 400:  # beyond f64 and u32 either way; avoids Python's int digit limit
        return _BadNumber("number out of range")
    return int(text)


def loads_strict(text: str | bytes) -> Any:
    """Parse JSON like serde_json does for our types; objects become `JsonObject`.

    Syntax errors raise `InvalidRecord(".", ...)`. Values serde_json refuses while parsing
    (see `_BadNumber`, infinities from `1e400`, lone surrogates) are kept and refused by
    `validate` at their path, in document order, as serde_json does.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidRecord(".", f"invalid UTF-8: {e}") from None
    try:
        return json.loads(
            text,
            object_pairs_hook=JsonObject,
            parse_constant=_parse_constant,
            parse_int=_parse_int,
        )
    except (ValueError, RecursionError) as e:
        raise InvalidRecord(".", f"invalid JSON: {e}") from None


# ---------------------------------------------------------------------------------------------
# Schema (mirrors the serde derive in service/src/features/record.rs)

_STR, _U32, _F64, _BOOL = "string", "u32", "f64", "boolean"
TRADELINE_KINDS = ("credit_card", "mortgage", "installment", "other")


class _Obj:
    def __init__(self, name: str, expecting: str):
        self.name = name
        self.expecting = expecting


class _List:
    def __init__(self, item: Any):
        self.item = item


class _Enum:
    def __init__(self, variants: tuple[str, ...]):
        self.variants = variants


REQ, OPT = True, False

SCHEMA: dict[str, list[tuple[str, Any, bool]]] = {
    "LoanApplication": [
        ("id", _STR, OPT),
        ("applicant", _Obj("Applicant", "an applicant object"), REQ),
        ("joint", _Obj("JointApplicant", "a joint applicant object"), OPT),
        ("loan", _Obj("Loan", "a loan object"), REQ),
        ("credit_history", _Obj("CreditHistory", "a credit history object"), REQ),
        ("tradelines", _List(_Obj("Tradeline", "a tradeline object")), REQ),
    ],
    "Applicant": [
        ("employment", _Obj("Employment", "an employment object"), OPT),
        ("home_ownership", _STR, REQ),
        ("state", _STR, REQ),
        ("income", _Obj("Income", "an income object"), REQ),
    ],
    "Employment": [
        ("title", _STR, OPT),
        ("length_years", _U32, OPT),
    ],
    "Income": [
        ("annual", _F64, REQ),
        ("verification", _STR, REQ),
        ("debt_to_income", _F64, OPT),
    ],
    "JointApplicant": [
        ("annual_income", _F64, REQ),
        ("verification", _STR, OPT),
        ("debt_to_income", _F64, REQ),
    ],
    "Loan": [
        ("amount", _F64, REQ),
        ("term_months", _U32, REQ),
        ("purpose", _STR, REQ),
    ],
    "CreditHistory": [
        ("earliest_credit_line_year", _U32, REQ),
        ("inquiries_last_12m", _U32, REQ),
        ("months_since_last_credit_inquiry", _U32, OPT),
        ("delinquencies_2y", _U32, REQ),
        ("months_since_last_delinquency", _U32, OPT),
        ("months_since_90d_late", _U32, OPT),
        ("public_record_bankruptcies", _U32, REQ),
        ("tax_liens", _U32, REQ),
        ("collections_last_12m", _U32, REQ),
        ("historical_failed_to_pay", _U32, REQ),
        ("accounts_opened_24m", _U32, REQ),
        ("accounts_120d_past_due", _U32, OPT),
        ("never_delinquent_percent", _F64, REQ),
        ("total_credit_limit", _F64, REQ),
        ("total_credit_utilized", _F64, REQ),
        ("total_collection_amount_ever", _F64, REQ),
    ],
    "Tradeline": [
        ("kind", _Enum(TRADELINE_KINDS), REQ),
        ("open", _BOOL, REQ),
        ("carries_balance", _BOOL, OPT),
    ],
}


def _join(path: str, key: str) -> str:
    return key if path == "." else f"{path}.{key}"


def _describe(v: Any) -> str:
    if v is None:
        return "null"
    if type(v) is bool:
        return f"boolean `{'true' if v else 'false'}`"
    if type(v) is int:
        return f"integer `{v}`"
    if type(v) is float:
        return f"floating point `{v!r}`"
    if type(v) is str:
        return "string"
    if type(v) is list:
        return "sequence"
    if isinstance(v, (JsonObject, dict)):
        return "map"
    return "value"


def _check_str(v: str, path: str) -> str:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRecord(path, "lone surrogate in string escape") from None
    return v


def _lexical(v: Any, path: str) -> None:
    """Errors serde_json raises while reading a scalar, before looking at its type."""
    if isinstance(v, _BadNumber):
        raise InvalidRecord(path, v.message)
    if type(v) is float and not math.isfinite(v):
        raise InvalidRecord(path, "number out of range")
    if type(v) is str:
        _check_str(v, path)


def _value(v: Any, ty: Any, path: str) -> Any:
    if isinstance(ty, _Obj):
        if not isinstance(v, (JsonObject, dict)):
            _lexical(v, path)
            raise InvalidRecord(path, f"invalid type: {_describe(v)}, expected {ty.expecting}")
        return _object(v, ty.name, path)
    if isinstance(ty, _List):
        if type(v) is not list:
            _lexical(v, path)
            raise InvalidRecord(path, f"invalid type: {_describe(v)}, expected a sequence")
        return [_value(item, ty.item, f"{path}[{i}]") for i, item in enumerate(v)]
    _lexical(v, path)
    if isinstance(ty, _Enum):
        if type(v) is not str:
            raise InvalidRecord(path, f"invalid type: {_describe(v)}, expected variant identifier")
        if v not in ty.variants:
            raise InvalidRecord(path, f"unknown variant `{v}`")
        return v
    if ty == _STR:
        if type(v) is not str:
            raise InvalidRecord(path, f"invalid type: {_describe(v)}, expected a string")
        return v
    if ty == _BOOL:
        if type(v) is not bool:
            raise InvalidRecord(path, f"invalid type: {_describe(v)}, expected a boolean")
        return v
    if ty == _U32:
        if type(v) is not int:  # bool is a subclass of int: excluded by `type(...) is`
            raise InvalidRecord(path, f"invalid type: {_describe(v)}, expected u32")
        if not 0 <= v <= U32_MAX:
            raise InvalidRecord(path, f"invalid value: integer `{v}`, expected u32")
        return v
    if ty == _F64:
        if type(v) is int:
            try:
                f = float(v)  # correctly rounded, like serde_json's integer -> f64
            except OverflowError:
                raise InvalidRecord(path, "number out of range") from None
        elif type(v) is float:
            f = v
        else:
            raise InvalidRecord(path, f"invalid type: {_describe(v)}, expected f64")
        return f + 0.0  # -0.0 -> 0.0 (both sides normalise the sign of zero)
    raise AssertionError(ty)


def _object(obj: JsonObject | dict, name: str, path: str) -> dict[str, Any]:
    fields = SCHEMA[name]
    types = {f: (ty, req) for f, ty, req in fields}
    pairs = obj.pairs if isinstance(obj, JsonObject) else list(obj.items())
    out: dict[str, Any] = {}
    for key, v in pairs:
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRecord(_join(path, "?"), "lone surrogate in string escape") from None
        if key not in types:
            raise InvalidRecord(_join(path, key), f"unknown field `{key}`")
        if key in out:
            raise InvalidRecord(path, f"duplicate field `{key}`")
        ty, required = types[key]
        # Option<T>: null is None; for a required field null is a type error.
        out[key] = None if v is None and not required else _value(v, ty, _join(path, key))
    for f, _, required in fields:  # serde reports the first missing field in declaration order
        if f not in out:
            if required:
                raise InvalidRecord(path, f"missing field `{f}`")
            out[f] = None
    return {f: out[f] for f, _, _ in fields}


def _semantic(r: dict[str, Any]) -> None:
    """The rules of `check_values` (service/src/features/engineering.rs), in the same order: the
    declaration order of the fields."""

    def non_negative(v: float | None, path: str) -> None:
        if v is not None and not v >= 0.0:
            raise InvalidRecord(path, "must not be negative")

    def at_most(v: str | None, limit: int, path: str) -> None:
        if v is not None and len(v) > limit:  # code points, as Rust's chars().count()
            raise InvalidRecord(path, f"longer than {limit} characters")

    at_most(r["id"], MAX_ID_CHARS, "id")
    applicant = r["applicant"]
    employment = applicant["employment"]
    if employment is not None:
        at_most(employment["title"], MAX_TITLE_CHARS, "applicant.employment.title")
    at_most(applicant["home_ownership"], MAX_TEXT_CHARS, "applicant.home_ownership")
    at_most(applicant["state"], MAX_TEXT_CHARS, "applicant.state")
    income = applicant["income"]
    non_negative(income["annual"], "applicant.income.annual")
    at_most(income["verification"], MAX_TEXT_CHARS, "applicant.income.verification")
    non_negative(income["debt_to_income"], "applicant.income.debt_to_income")
    joint = r["joint"]
    if joint is not None:
        non_negative(joint["annual_income"], "joint.annual_income")
        at_most(joint["verification"], MAX_TEXT_CHARS, "joint.verification")
        non_negative(joint["debt_to_income"], "joint.debt_to_income")
    non_negative(r["loan"]["amount"], "loan.amount")
    if r["loan"]["term_months"] == 0:
        raise InvalidRecord("loan.term_months", "must be positive")
    at_most(r["loan"]["purpose"], MAX_TEXT_CHARS, "loan.purpose")
    ch = r["credit_history"]
    pct = ch["never_delinquent_percent"]
    if not 0.0 <= pct <= 100.0:
        raise InvalidRecord("credit_history.never_delinquent_percent", "must be between 0 and 100")
    non_negative(ch["total_credit_limit"], "credit_history.total_credit_limit")
    non_negative(ch["total_credit_utilized"], "credit_history.total_credit_utilized")
    non_negative(ch["total_collection_amount_ever"], "credit_history.total_collection_amount_ever")
    if len(r["tradelines"]) > MAX_TRADELINES:
        raise InvalidRecord("tradelines", f"more than {MAX_TRADELINES} entries")


def read_record(event: Any) -> dict[str, Any]:
    """The shape half of `validate`: what serde's derive refuses (types, unknown, missing and
    duplicate fields, values serde_json cannot read). Returns the record with every field set
    (absent optional fields as None, floats as Python floats). Raises `InvalidRecord`."""
    if not isinstance(event, (JsonObject, dict)):
        _lexical(event, ".")
        raise InvalidRecord(".", f"invalid type: {_describe(event)}, expected a loan application object")
    return _object(event, "LoanApplication", ".")


def check_values(record: dict[str, Any]) -> None:
    """The value half of `validate` on a record from `read_record`: the rules of the service's
    `check_values` (signs, ranges, length limits). Raises `InvalidRecord`."""
    _semantic(record)


def validate(event: Any) -> dict[str, Any]:
    """Check a record (from `loads_strict`, or a plain dict) and return it with every field set
    (absent optional fields as None, floats as Python floats). Raises `InvalidRecord`."""
    record = read_record(event)
    check_values(record)
    return record


def describe(v: Any) -> str:
    """How serde_json's errors name the type of a JSON value (`map`, `sequence`, `integer `3``)."""
    return _describe(v)


# ---------------------------------------------------------------------------------------------
# Features


def ratio(a: float, b: float) -> float:
    """a / b, NaN when b is 0 or the quotient is not finite. Inputs are finite or NaN."""
    if b == 0.0:
        return NAN
    q = a / b
    return NAN if math.isinf(q) else q


def _opt(v: float | int | None) -> float:
    return NAN if v is None else float(v)


def normalize_title(title: str) -> str:
    """ASCII letters lower-cased; ASCII characters other than [a-z0-9] are separators (runs
    collapse to one space, none at the ends); non-ASCII code points are kept unchanged."""
    out = []
    for ch in title:
        o = ord(ch)
        if 65 <= o <= 90:
            out.append(chr(o + 32))
        elif 97 <= o <= 122 or 48 <= o <= 57 or o >= 128:
            out.append(ch)
        else:
            out.append(" ")
    return " ".join(t for t in "".join(out).split(" ") if t)


def _word_pattern(words: list[str]) -> re.Pattern[str]:
    # Applied to normalised titles (tokens of [a-z0-9] and non-ASCII separated by single
    # spaces, no newline), so `^`/`$` mean the ends of the string in both `re` and `regex`.
    return re.compile("(?:^| )(?:" + "|".join(words) + ")(?: |$)")


# Identical pattern strings are compiled by the Rust `regex` crate.
TITLE_PATTERNS: list[tuple[str, str]] = [
    ("title_senior", _word_pattern(
        ["manager", "mgr", "director", "supervisor", "lead", "leader", "head", "chief", "ceo",
         "cfo", "coo", "cto", "vp", "president", "owner", "principal", "partner",
         "superintendent", "foreman"]).pattern),
    ("title_medical", _word_pattern(
        ["nurse", "nursing", "rn", "lpn", "cna", "np", "medical", "physician", "doctor", "md",
         "pharmacist", "pharmacy", "dental", "dentist", "hygienist", "therapist", "clinical",
         "surgical", "surgeon", "paramedic", "emt", "radiology", "health", "healthcare",
         "hospital", "caregiver"]).pattern),
    ("title_driver", _word_pattern(
        ["driver", "drivers", "trucker", "truck", "cdl", "courier", "delivery", "chauffeur",
         "bus"]).pattern),
    ("title_teacher", _word_pattern(
        ["teacher", "professor", "instructor", "educator", "teaching", "tutor", "faculty",
         "lecturer", "school", "paraprofessional"]).pattern),
]
_TITLE_REGEXES = [(name, re.compile(p)) for name, p in TITLE_PATTERNS]


def transform(record: dict[str, Any]) -> list[float | str]:
    """Features of a validated record, in `FEATURES` order (floats are finite or NaN)."""
    applicant = record["applicant"]
    income = applicant["income"]
    joint = record["joint"]
    loan = record["loan"]
    ch = record["credit_history"]
    lines = record["tradelines"]
    employment = applicant["employment"] or {"title": None, "length_years": None}

    annual = income["annual"]
    dti = _opt(income["debt_to_income"])
    amount = loan["amount"]
    f: dict[str, float | str] = {}
    f["annual_income"] = annual
    f["debt_to_income"] = dti
    f["emp_length_years"] = _opt(employment["length_years"])
    f["loan_amount"] = amount
    f["loan_to_income"] = ratio(amount, annual)
    f["is_joint"] = 0.0 if joint is None else 1.0
    f["joint_annual_income"] = NAN if joint is None else joint["annual_income"]
    f["joint_to_individual_dti"] = NAN if joint is None else ratio(joint["debt_to_income"], dti)
    f["earliest_credit_line_year"] = float(ch["earliest_credit_line_year"])
    f["inquiries_last_12m"] = float(ch["inquiries_last_12m"])
    f["months_since_last_credit_inquiry"] = _opt(ch["months_since_last_credit_inquiry"])
    f["delinquencies_2y"] = float(ch["delinquencies_2y"])
    f["months_since_last_delinquency"] = _opt(ch["months_since_last_delinquency"])
    f["derogatory_marks"] = float(
        ch["public_record_bankruptcies"] + ch["tax_liens"] + ch["collections_last_12m"]
        + ch["historical_failed_to_pay"])
    f["accounts_opened_24m"] = float(ch["accounts_opened_24m"])
    f["total_credit_limit"] = ch["total_credit_limit"]
    f["credit_utilization"] = ratio(ch["total_credit_utilized"], ch["total_credit_limit"])

    n_open = sum(1 for t in lines if t["open"])
    cards = [t for t in lines if t["kind"] == "credit_card"]
    cards_open = sum(1 for t in cards if t["open"])
    cards_balance = sum(1 for t in cards if t["carries_balance"] is True)
    f["tradelines_total"] = float(len(lines))
    f["tradelines_open_share"] = ratio(float(n_open), float(len(lines)))
    f["credit_card_count"] = float(len(cards))
    f["credit_card_balance_share"] = ratio(float(cards_balance), float(cards_open))
    f["mortgage_count"] = float(sum(1 for t in lines if t["kind"] == "mortgage"))

    title = employment["title"]
    norm = "" if title is None else normalize_title(title)
    f["title_length"] = NAN if title is None else float(len(title))
    f["title_word_count"] = NAN if title is None else float(len(norm.split(" ")) if norm else 0)
    for name, rx in _TITLE_REGEXES:
        f[name] = 1.0 if rx.search(norm) else 0.0

    f["emp_title_norm"] = norm if norm else NONE_CATEGORY
    f["state"] = applicant["state"]
    f["home_ownership"] = applicant["home_ownership"]
    f["income_verification"] = income["verification"]
    jv = None if joint is None else joint["verification"]
    f["joint_income_verification"] = NONE_CATEGORY if jv is None else jv
    f["loan_purpose"] = loan["purpose"]
    f["term"] = str(loan["term_months"])

    assert list(f) == FEATURE_NAMES, "feature computation out of FEATURES order"
    return [f[name] for name in FEATURE_NAMES]


def parse_and_transform(text: str | bytes) -> list[float | str]:
    """JSON text of one record -> features (what the service does per record)."""
    return transform(validate(loads_strict(text)))
