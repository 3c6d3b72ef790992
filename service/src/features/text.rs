//! Employment-title text features. ASCII-only rules on code points, identical to
//! `normalize_title` and `TITLE_PATTERNS` in `models/features.py`.

/// `(feature name, words)`: the flag is 1 when the normalised title contains one of the words
/// as a whole token. Same lists, same order as `models/features.py`.
pub(super) const TITLE_FLAGS: [(&str, &[&str]); 4] = [
    (
        "title_senior",
        &[
            "manager",
            "mgr",
            "director",
            "supervisor",
            "lead",
            "leader",
            "head",
            "chief",
            "ceo",
            "cfo",
            "coo",
            "cto",
            "vp",
            "president",
            "owner",
            "principal",
            "partner",
            "superintendent",
            "foreman",
        ],
    ),
    (
        "title_medical",
        &[
            "nurse",
            "nursing",
            "rn",
            "lpn",
            "cna",
            "np",
            "medical",
            "physician",
            "doctor",
            "md",
            "pharmacist",
            "pharmacy",
            "dental",
            "dentist",
            "hygienist",
            "therapist",
            "clinical",
            "surgical",
            "surgeon",
            "paramedic",
            "emt",
            "radiology",
            "health",
            "healthcare",
            "hospital",
            "caregiver",
        ],
    ),
    (
        "title_driver",
        &[
            "driver",
            "drivers",
            "trucker",
            "truck",
            "cdl",
            "courier",
            "delivery",
            "chauffeur",
            "bus",
        ],
    ),
    (
        "title_teacher",
        &[
            "teacher",
            "professor",
            "instructor",
            "educator",
            "teaching",
            "tutor",
            "faculty",
            "lecturer",
            "school",
            "paraprofessional",
        ],
    ),
];

/// The regex of a word list, as `models/features.py` applies it and `feature_set.json`
/// records it. It is applied to normalised titles, which hold no newline, so `^`/`$` mean the
/// ends of the text in Python `re`.
pub(super) fn word_pattern(words: &[&str]) -> String {
    format!("(?:^| )(?:{})(?: |$)", words.join("|"))
}

/// The title flags, in [`TITLE_FLAGS`] order.
///
/// A normalised title is tokens joined by single spaces, with none at the ends, and no word
/// holds a space: so the word pattern matches exactly when one of the title's tokens is one of
/// the words. That is a set lookup per token, which needs no regex engine to compile at init.
#[derive(Debug, Clone)]
pub(super) struct TitleFlags;

impl TitleFlags {
    pub(super) fn new() -> Self {
        TitleFlags
    }

    /// 1.0 / 0.0 per flag, for a normalised title.
    pub(super) fn flags(&self, normalized: &str) -> [f64; TITLE_FLAGS.len()] {
        let mut out = [0.0; TITLE_FLAGS.len()];
        for token in normalized.split(' ') {
            for (slot, (_, words)) in out.iter_mut().zip(TITLE_FLAGS) {
                if words.contains(&token) {
                    *slot = 1.0;
                }
            }
        }
        out
    }
}

/// ASCII letters lower-cased; ASCII characters other than `[a-z0-9]` are separators (runs
/// collapse to one space, none at the ends); non-ASCII code points are kept unchanged.
pub(super) fn normalize_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut separator = false;
    for c in title.chars() {
        let kept = match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' => c,
            c if !c.is_ascii() => c,
            _ => {
                separator = true;
                continue;
            }
        };
        if separator && !out.is_empty() {
            out.push(' ');
        }
        separator = false;
        out.push(kept);
    }
    out
}

/// Number of tokens of a normalised title.
pub(super) fn word_count(normalized: &str) -> usize {
    if normalized.is_empty() {
        0
    } else {
        normalized.matches(' ').count() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_is_ascii_only() {
        assert_eq!(
            normalize_title("  Sr. Manager/Lead - R&D "),
            "sr manager lead r d"
        );
        assert_eq!(normalize_title("\u{212A}itchen MGR"), "\u{212A}itchen mgr"); // Kelvin sign kept
        assert_eq!(normalize_title("\u{1c}nurse\u{1f}"), "nurse"); // ASCII control = separator
        assert_eq!(
            normalize_title("truck\u{3000}driver"),
            "truck\u{3000}driver"
        );
        assert_eq!(normalize_title("\u{c9}COLE"), "\u{c9}cole");
        assert_eq!(normalize_title(" \t\r\n"), "");
        assert_eq!(word_count(""), 0);
        assert_eq!(word_count("bus driver"), 2);
    }

    #[test]
    fn flags_match_whole_tokens() {
        let flags = TitleFlags::new();
        assert_eq!(flags.flags("store manager"), [1.0, 0.0, 0.0, 0.0]);
        assert_eq!(flags.flags("managers"), [0.0; 4]);
        assert_eq!(flags.flags("rn"), [0.0, 1.0, 0.0, 0.0]);
        assert_eq!(flags.flags("bus driver lead teacher"), [1.0, 0.0, 1.0, 1.0]);
        assert_eq!(flags.flags(""), [0.0; 4]);
        assert_eq!(flags.flags("head nurse"), [1.0, 1.0, 0.0, 0.0]);
        assert_eq!(flags.flags("bus"), [0.0, 0.0, 1.0, 0.0]);
        assert_eq!(flags.flags("omnibus driverless"), [0.0; 4]);
    }
}
