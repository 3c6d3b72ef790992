//! Unit tests: validation rules name the right path; feature-set checks; numeric edge rules.

use super::*;

const BASE: &str = r#"{"id": "app-1",
 "applicant": {"employment": {"title": "Store Manager ", "length_years": 3},
               "home_ownership": "MORTGAGE", "state": "NJ",
               "income": {"annual": 90000.0, "verification": "Verified", "debt_to_income": 18.01}},
 "joint": {"annual_income": 150000, "verification": null, "debt_to_income": 12.5},
 "loan": {"amount": 28000, "term_months": 60, "purpose": "moving"},
 "credit_history": {"earliest_credit_line_year": 2001, "inquiries_last_12m": 6,
   "months_since_last_credit_inquiry": 5, "delinquencies_2y": 0,
   "months_since_last_delinquency": null, "public_record_bankruptcies": 1, "tax_liens": 0,
   "collections_last_12m": 2, "historical_failed_to_pay": 0, "accounts_opened_24m": 5,
   "accounts_120d_past_due": 0, "never_delinquent_percent": 92.9,
   "total_credit_limit": 70795, "total_credit_utilized": 38767,
   "total_collection_amount_ever": 1250},
 "tradelines": [{"kind": "credit_card", "open": true, "carries_balance": true},
                {"kind": "credit_card", "open": true, "carries_balance": false},
                {"kind": "credit_card", "open": false},
                {"kind": "mortgage", "open": true},
                {"kind": "other", "open": false}]}"#;

fn feature_set_json() -> String {
    let features: Vec<serde_json::Value> = super::engineering::tests_support::features()
        .into_iter()
        .map(|(name, kind, pattern)| {
            let mut v = serde_json::json!({"name": name, "kind": kind.to_string()});
            if let Some(p) = pattern {
                v["pattern"] = p.into();
            }
            v
        })
        .collect();
    serde_json::json!({
        "format_version": 1,
        "feature_engineering": FEATURE_ENGINEERING_ID,
        "target": {"name": "prime", "description": "grade in {A, B}", "positive_class": 1},
        "features": features,
    })
    .to_string()
}

fn engineering() -> FeatureEngineering {
    let set = FeatureSet::from_json(feature_set_json().as_bytes()).expect("feature set parses");
    FeatureEngineering::new(&set).expect("feature set matches")
}

/// Replaces exactly one occurrence of `from` in BASE.
fn edit(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur once in BASE"
    );
    BASE.replacen(from, to, 1)
}

/// The path of the error for `json`, from parsing or from the value checks.
fn error_path(json: &str) -> Option<String> {
    match LoanApplication::from_json(json.as_bytes()) {
        Err(e) => Some(e.path().to_owned()),
        Ok(record) => engineering()
            .transform(&record)
            .err()
            .map(|e| e.path().to_owned()),
    }
}

/// BASE with another `tradelines` array.
fn with_tradelines(array: &str) -> String {
    let at = BASE.find(r#""tradelines": "#).expect("BASE has tradelines");
    format!("{}\"tradelines\": {array}}}", &BASE[..at])
}

fn features_of(json: &str) -> Vec<Feature> {
    let record = LoanApplication::from_json(json.as_bytes()).expect("valid record");
    engineering()
        .transform(&record)
        .expect("valid values")
        .into_vec()
}

fn float(features: &[Feature], name: &str) -> f64 {
    let index = engineering()
        .feature_names()
        .position(|n| n == name)
        .expect("known feature");
    match &features[index] {
        Feature::Float(v) => *v,
        Feature::Categorical(c) => panic!("{name} is categorical: {c}"),
    }
}

fn category(features: &[Feature], name: &str) -> String {
    let index = engineering()
        .feature_names()
        .position(|n| n == name)
        .expect("known feature");
    match &features[index] {
        Feature::Categorical(c) => c.clone(),
        Feature::Float(v) => panic!("{name} is float: {v}"),
    }
}

#[test]
fn base_record_is_valid() {
    assert_eq!(error_path(BASE), None);
    let f = features_of(BASE);
    assert_eq!(f.len(), 35);
    assert_eq!(float(&f, "title_senior"), 1.0);
    assert_eq!(float(&f, "title_length"), 14.0);
    assert_eq!(float(&f, "title_word_count"), 2.0);
    assert_eq!(float(&f, "derogatory_marks"), 3.0);
    assert_eq!(float(&f, "tradelines_open_share"), 3.0 / 5.0);
    assert_eq!(float(&f, "credit_card_balance_share"), 0.5);
    assert_eq!(float(&f, "mortgage_count"), 1.0);
    assert!(float(&f, "months_since_last_delinquency").is_nan());
    assert_eq!(category(&f, "emp_title_norm"), "store manager");
    assert_eq!(category(&f, "joint_income_verification"), NONE_CATEGORY);
    assert_eq!(category(&f, "term"), "60");
}

#[test]
fn shape_errors_name_the_path() {
    let cases: &[(&str, String)] = &[
        // unknown field: the field itself
        (
            "applicant.zz",
            edit(r#""state": "NJ","#, r#""state": "NJ", "zz": 1,"#),
        ),
        (
            "zz",
            edit(r#"{"id": "app-1","#, r#"{"zz": null, "id": "app-1","#),
        ),
        // missing required field: the object that lacks it (root is ".")
        ("applicant", edit(r#""state": "NJ","#, "")),
        (
            ".",
            edit(
                r#""loan": {"amount": 28000, "term_months": 60, "purpose": "moving"},"#,
                "",
            ),
        ),
        (
            "tradelines[4]",
            edit(
                r#"{"kind": "other", "open": false}"#,
                r#"{"kind": "other"}"#,
            ),
        ),
        // wrong types
        ("applicant.income.annual", edit("90000.0", r#""90000""#)),
        ("applicant.income.annual", edit("90000.0", "true")),
        ("loan.term_months", edit("60", "60.0")),
        ("loan.term_months", edit("60", "6e1")),
        ("loan.term_months", edit("60", "-1")),
        ("loan.term_months", edit("60", "-0")),
        ("loan.term_months", edit("60", "4294967296")),
        ("loan.term_months", edit("60", "true")),
        ("id", edit(r#""app-1""#, "7")),
        (
            "tradelines[1].open",
            edit(
                r#""open": true, "carries_balance": false"#,
                r#""open": 1, "carries_balance": false"#,
            ),
        ),
        (
            "tradelines[2].kind",
            edit(
                r#"{"kind": "credit_card", "open": false}"#,
                r#"{"kind": "car", "open": false}"#,
            ),
        ),
        (
            "tradelines",
            edit(r#""tradelines": ["#, r#""tradelines": null, "x": ["#),
        ),
        // objects only: arrays and null are refused where an object is required
        (
            "applicant.income",
            edit(
                r#"{"annual": 90000.0, "verification": "Verified", "debt_to_income": 18.01}"#,
                r#"[90000.0, "Verified", 18.01]"#,
            ),
        ),
        (
            "loan",
            edit(
                r#"{"amount": 28000, "term_months": 60, "purpose": "moving"}"#,
                "null",
            ),
        ),
        // numbers and strings serde_json refuses
        ("applicant.income.annual", edit("90000.0", "1e400")),
        (
            "applicant.income.annual",
            edit("90000.0", &format!("1{}", "0".repeat(400))),
        ),
        ("applicant.income.annual", edit("90000.0", "NaN")),
        ("applicant.income.annual", edit("90000.0", "-Infinity")),
        ("applicant.state", edit(r#""NJ""#, r#""\ud800""#)),
        (
            "applicant.?",
            edit(r#""state": "NJ","#, r#""state": "NJ", "\udc00": 1,"#),
        ),
        // duplicate field: the object holding it
        (
            "applicant.income",
            edit(
                r#""verification": "Verified","#,
                r#""verification": "Verified", "annual": 1,"#,
            ),
        ),
        // not a record at all
        (".", "[1, 2]".to_owned()),
        (".", format!("{BASE} {{}}")),
    ];
    for (path, json) in cases {
        assert_eq!(error_path(json).as_deref(), Some(*path), "{json}");
    }
}

#[test]
fn value_rules_name_the_path() {
    let cases: &[(&str, String)] = &[
        ("applicant.income.annual", edit("90000.0", "-1")),
        ("applicant.income.debt_to_income", edit("18.01", "-0.5")),
        ("joint.annual_income", edit("150000", "-150000")),
        ("joint.debt_to_income", edit("12.5", "-12.5")),
        ("loan.amount", edit("28000", "-5e-324")),
        ("loan.term_months", edit("60", "0")),
        (
            "credit_history.never_delinquent_percent",
            edit("92.9", "100.5"),
        ),
        (
            "credit_history.never_delinquent_percent",
            edit("92.9", "-1"),
        ),
        ("credit_history.total_credit_limit", edit("70795", "-1")),
        ("credit_history.total_credit_utilized", edit("38767", "-1")),
        (
            "credit_history.total_collection_amount_ever",
            edit("1250", "-1"),
        ),
        // the first failing rule wins
        (
            "applicant.income.annual",
            edit("90000.0", "-1").replacen("60", "0", 1),
        ),
    ];
    for (path, json) in cases {
        assert_eq!(error_path(json).as_deref(), Some(*path), "{json}");
    }
    // -0 is zero, not negative
    assert_eq!(error_path(&edit("28000", "-0")), None);
    assert_eq!(error_path(&edit("90000.0", "-0.0")), None);
    // records built in code: non-finite values are refused too
    let mut record = LoanApplication::from_json(BASE.as_bytes()).expect("valid");
    record.loan.amount = f64::INFINITY;
    let err = engineering()
        .transform(&record)
        .expect_err("infinite amount");
    assert_eq!(err.path(), "loan.amount");
    record.loan.amount = f64::NAN;
    assert!(engineering().transform(&record).is_err());
}

/// The path and message of the error for `json`, from parsing or from the value checks.
fn error_of(json: &str) -> Option<(String, String)> {
    let result = LoanApplication::from_json(json.as_bytes())
        .and_then(|record| engineering().transform(&record).map(|_| ()));
    result
        .err()
        .map(|e| (e.path().to_owned(), e.message().to_owned()))
}

/// `n` characters cycling through é (2 UTF-8 bytes), 😀 (4 bytes, 2 UTF-16 units), 护 (3 bytes).
fn wide(n: usize) -> String {
    "é😀护".chars().cycle().take(n).collect()
}

/// The string fields with their limits: (path, text in BASE, replacement with `{}` for the value).
const STRING_FIELDS: &[(&str, &str, &str, usize)] = &[
    ("id", r#""id": "app-1""#, r#""id": "{}""#, MAX_ID_CHARS),
    (
        "applicant.employment.title",
        r#""title": "Store Manager ""#,
        r#""title": "{}""#,
        MAX_TITLE_CHARS,
    ),
    (
        "applicant.home_ownership",
        r#""home_ownership": "MORTGAGE""#,
        r#""home_ownership": "{}""#,
        MAX_TEXT_CHARS,
    ),
    (
        "applicant.state",
        r#""state": "NJ""#,
        r#""state": "{}""#,
        MAX_TEXT_CHARS,
    ),
    (
        "applicant.income.verification",
        r#""verification": "Verified""#,
        r#""verification": "{}""#,
        MAX_TEXT_CHARS,
    ),
    (
        "joint.verification",
        r#""verification": null"#,
        r#""verification": "{}""#,
        MAX_TEXT_CHARS,
    ),
    (
        "loan.purpose",
        r#""purpose": "moving""#,
        r#""purpose": "{}""#,
        MAX_TEXT_CHARS,
    ),
];

fn with_string(field: &str, value: &str) -> String {
    let (_, from, to, _) = STRING_FIELDS
        .iter()
        .find(|(path, ..)| *path == field)
        .expect("known string field");
    edit(from, &to.replace("{}", value))
}

#[test]
fn length_limits() {
    assert_eq!(MAX_ID_CHARS, 128);
    assert_eq!(MAX_TITLE_CHARS, 2048);
    assert_eq!(MAX_TEXT_CHARS, 128);
    assert_eq!(MAX_TRADELINES, 10_000);
}

#[test]
fn every_string_is_refused_just_over_its_limit() {
    for &(path, _, _, limit) in STRING_FIELDS {
        let at = wide(limit);
        assert!(at.len() > limit, "bytes != characters");
        assert_eq!(error_of(&with_string(path, &at)), None, "{path} at {limit}");
        assert_eq!(
            error_of(&with_string(path, &wide(limit + 1))),
            Some((path.to_owned(), format!("longer than {limit} characters"))),
            "{path} over {limit}"
        );
        // ASCII, where bytes == characters
        assert_eq!(error_of(&with_string(path, &"a".repeat(limit))), None);
        assert_eq!(
            error_of(&with_string(path, &"a".repeat(limit + 1))).map(|(p, _)| p),
            Some(path.to_owned())
        );
    }
}

#[test]
fn lengths_count_code_points() {
    // escaped surrogate pairs: one code point each (two UTF-16 units, four UTF-8 bytes)
    let pairs = r"\ud83d\ude00".repeat(MAX_ID_CHARS);
    assert_eq!(error_of(&with_string("id", &pairs)), None);
    assert_eq!(
        error_of(&with_string("id", &format!("x{pairs}"))),
        Some(("id".to_owned(), "longer than 128 characters".to_owned()))
    );
    // a combining mark is a code point of its own: e + U+0301 counts two
    let title = "e\u{0301}".repeat(MAX_TITLE_CHARS / 2);
    assert_eq!(
        error_of(&with_string("applicant.employment.title", &title)),
        None
    );
    assert_eq!(
        error_of(&with_string(
            "applicant.employment.title",
            &format!("{title}e")
        ))
        .map(|(p, _)| p),
        Some("applicant.employment.title".to_owned())
    );
    // the longest golden title (1057 characters) stays valid
    let golden = format!("{}manager", "senior ".repeat(150));
    assert_eq!(golden.chars().count(), 1057);
    assert_eq!(
        error_of(&with_string("applicant.employment.title", &golden)),
        None
    );
    // the feature still counts code points
    let f = features_of(&with_string(
        "applicant.employment.title",
        &wide(MAX_TITLE_CHARS),
    ));
    assert_eq!(float(&f, "title_length"), 2048.0);
}

#[test]
fn huge_strings_are_invalid_records() {
    let title = "engineer ".repeat(111_112); // 1 MB
    assert_eq!(
        error_of(&with_string("applicant.employment.title", &title)),
        Some((
            "applicant.employment.title".to_owned(),
            "longer than 2048 characters".to_owned()
        ))
    );
    assert_eq!(
        error_of(&with_string("id", &"x".repeat(100_000))),
        Some(("id".to_owned(), "longer than 128 characters".to_owned()))
    );
}

#[test]
fn tradelines_are_limited() {
    let lines = |n: usize, last: &str| {
        let mut items = vec![r#"{"kind": "other", "open": true}"#; n];
        items.push(last);
        with_tradelines(&format!("[{}]", items.join(", ")))
    };
    let ok = r#"{"kind": "mortgage", "open": false}"#;
    assert_eq!(error_of(&lines(MAX_TRADELINES - 1, ok)), None);
    assert_eq!(
        error_of(&lines(MAX_TRADELINES, ok)),
        Some((
            "tradelines".to_owned(),
            "more than 10000 entries".to_owned()
        ))
    );
    // a shape error in any entry comes before the count
    assert_eq!(
        error_of(&lines(MAX_TRADELINES, r#"{"kind": "boat", "open": true}"#)).map(|(p, _)| p),
        Some("tradelines[10000].kind".to_owned())
    );
    // every other value rule comes before the count (tradelines is the last field)
    let json = lines(MAX_TRADELINES, ok).replacen("70795", "-1", 1);
    assert_eq!(
        error_of(&json).map(|(p, _)| p),
        Some("credit_history.total_credit_limit".to_owned())
    );
    // records built in code
    let mut record = LoanApplication::from_json(BASE.as_bytes()).expect("valid");
    let line = record.tradelines[0].clone();
    record.tradelines = vec![line.clone(); MAX_TRADELINES];
    assert_eq!(check_values(&record), Ok(()));
    record.tradelines.push(line);
    assert_eq!(
        check_values(&record).map_err(|e| e.path().to_owned()),
        Err("tradelines".to_owned())
    );
}

#[test]
fn length_rules_follow_the_declaration_order() {
    let over = |path: &str| {
        let (.., limit) = STRING_FIELDS
            .iter()
            .find(|(p, ..)| *p == path)
            .expect("known string field");
        "x".repeat(limit + 1)
    };
    // (the field made too long, another edit of BASE, the path reported)
    let long_state = format!(r#""state": "{}""#, over("applicant.state"));
    let cases: &[(&str, (&str, &str), &str)] = &[
        ("id", ("90000.0", "-1"), "id"),
        (
            "applicant.employment.title",
            (r#""state": "NJ""#, &long_state),
            "applicant.employment.title",
        ),
        (
            "applicant.home_ownership",
            (r#""state": "NJ""#, &long_state),
            "applicant.home_ownership",
        ),
        (
            "applicant.income.verification",
            ("90000.0", "-1"),
            "applicant.income.annual",
        ),
        (
            "applicant.income.verification",
            ("18.01", "-1"),
            "applicant.income.verification",
        ),
        (
            "joint.verification",
            ("150000", "-1"),
            "joint.annual_income",
        ),
        ("joint.verification", ("12.5", "-1"), "joint.verification"),
        (
            "loan.purpose",
            (r#""term_months": 60"#, r#""term_months": 0"#),
            "loan.term_months",
        ),
        ("loan.purpose", ("92.9", "150"), "loan.purpose"),
        // shape errors come before every value rule
        (
            "loan.purpose",
            (r#""purpose""#, r#""zz": 1, "purpose""#),
            "loan.zz",
        ),
    ];
    for &(long, (from, to), expected) in cases {
        let json = with_string(long, &over(long));
        assert_eq!(json.matches(from).count(), 1, "{from}");
        assert_eq!(
            error_of(&json.replacen(from, to, 1))
                .map(|(p, _)| p)
                .as_deref(),
            Some(expected),
            "{long} too long, {from} -> {to}"
        );
    }
    // the declaration order, not the order of the keys in the text: `loan` moved first
    let json = with_string("loan.purpose", &over("loan.purpose")).replacen(
        r#""state": "NJ""#,
        &long_state,
        1,
    );
    let loan_at = json.find(r#""loan": "#).expect("loan");
    let loan_end = loan_at + json[loan_at..].find('}').expect("loan ends") + 1;
    let rest = format!(
        "{}{}",
        &json[1..loan_at],
        json[loan_end..].trim_start_matches([',', '\n', ' '])
    );
    let reordered = format!("{{{}, {rest}", &json[loan_at..loan_end]);
    assert!(reordered.starts_with(r#"{"loan": {"#), "{reordered}");
    assert_eq!(
        LoanApplication::from_json(reordered.as_bytes()).map(|_| ()),
        Ok(())
    );
    assert_eq!(
        error_of(&reordered).map(|(p, _)| p).as_deref(),
        Some("applicant.state")
    );
}

#[test]
fn optional_fields_absent_or_null_mean_the_same() {
    let absent = features_of(&edit(r#""months_since_last_delinquency": null,"#, ""));
    let null = features_of(BASE);
    assert_eq!(format!("{absent:?}"), format!("{null:?}"));
    let no_joint = edit(
        r#""joint": {"annual_income": 150000, "verification": null, "debt_to_income": 12.5},"#,
        "",
    );
    let joint_null = edit(
        r#"{"annual_income": 150000, "verification": null, "debt_to_income": 12.5}"#,
        "null",
    );
    assert_eq!(
        format!("{:?}", features_of(&no_joint)),
        format!("{:?}", features_of(&joint_null))
    );
}

#[test]
fn numeric_edges() {
    // -0 becomes +0
    let f = features_of(&edit("28000", "-0"));
    assert_eq!(float(&f, "loan_amount").to_bits(), 0.0f64.to_bits());
    // division by zero and overflow are missing
    let f = features_of(&edit("90000.0", "0"));
    assert!(float(&f, "loan_to_income").is_nan());
    let f = features_of(&edit("90000.0", "5e-324"));
    assert!(float(&f, "loan_to_income").is_nan());
    let f = features_of(&edit("18.01", "0"));
    assert!(float(&f, "joint_to_individual_dti").is_nan());
    let f = features_of(&with_tradelines("[]"));
    assert_eq!(float(&f, "tradelines_total"), 0.0);
    assert!(float(&f, "tradelines_open_share").is_nan());
    assert!(float(&f, "credit_card_balance_share").is_nan());
    // integers beyond u64 round correctly
    let f = features_of(&edit("28000", "18446744073709551617"));
    assert_eq!(float(&f, "loan_amount"), 18446744073709551616.0);
    // counts up to u32::MAX are exact
    let f = features_of(&edit(r#""tax_liens": 0"#, r#""tax_liens": 4294967295"#));
    assert_eq!(float(&f, "derogatory_marks"), 4294967298.0);
}

#[test]
fn missing_and_blank_titles() {
    let f = features_of(&edit(r#""title": "Store Manager ", "#, ""));
    assert!(float(&f, "title_length").is_nan());
    assert!(float(&f, "title_word_count").is_nan());
    assert_eq!(float(&f, "title_senior"), 0.0);
    assert_eq!(category(&f, "emp_title_norm"), NONE_CATEGORY);
    let f = features_of(&edit("Store Manager ", " \\t.. "));
    assert_eq!(float(&f, "title_length"), 5.0);
    assert_eq!(float(&f, "title_word_count"), 0.0);
    assert_eq!(category(&f, "emp_title_norm"), NONE_CATEGORY);
    let f = features_of(&edit("Store Manager ", "护士 🚚"));
    assert_eq!(float(&f, "title_length"), 4.0); // code points
    assert_eq!(category(&f, "emp_title_norm"), "护士 🚚");
}

#[test]
fn feature_set_must_match() {
    let good: serde_json::Value = serde_json::from_str(&feature_set_json()).expect("valid json");
    let check = |v: &serde_json::Value| {
        FeatureSet::from_json(v.to_string().as_bytes()).and_then(|s| FeatureEngineering::new(&s))
    };
    assert!(check(&good).is_ok());

    let mut v = good.clone();
    v["features"][3]["name"] = "loan".into();
    assert!(matches!(
        check(&v),
        Err(FeatureSetError::Mismatch { index: 3, .. })
    ));

    let mut v = good.clone();
    v["features"][29]["kind"] = "float".into();
    assert!(matches!(
        check(&v),
        Err(FeatureSetError::Mismatch { index: 29, .. })
    ));

    let mut v = good.clone();
    let swapped = v["features"][0].take();
    v["features"][0] = v["features"][1].take();
    v["features"][1] = swapped;
    assert!(matches!(
        check(&v),
        Err(FeatureSetError::Mismatch { index: 0, .. })
    ));

    let mut v = good.clone();
    v["features"].as_array_mut().expect("array").pop();
    assert!(matches!(
        check(&v),
        Err(FeatureSetError::Count {
            expected: 35,
            found: 34
        })
    ));

    let mut v = good.clone();
    v["feature_engineering"] = "loan-application-features/v2".into();
    assert!(matches!(
        check(&v),
        Err(FeatureSetError::FeatureEngineering { .. })
    ));

    let mut v = good.clone();
    v["format_version"] = 2.into();
    assert!(matches!(
        check(&v),
        Err(FeatureSetError::FormatVersion { found: 2, .. })
    ));

    let mut v = good.clone();
    v["features"][24]["pattern"] = "(?:^| )(?:boss)(?: |$)".into();
    assert!(matches!(check(&v), Err(FeatureSetError::Pattern { .. })));

    let mut v = good.clone();
    v["extra"] = 1.into();
    match check(&v) {
        Err(FeatureSetError::Malformed { path, .. }) => assert_eq!(path, "extra"),
        other => panic!("expected Malformed, got {other:?}"),
    }
}
