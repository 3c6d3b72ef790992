//! A malformed case's body as the parts it is made of, made whole only when it is sent: a
//! corpus can describe a hundred bodies of megabytes (a generator's long string, a deep
//! nesting), and holding them all from the start took gigabytes. Its length is known without
//! making it, so a case is checked against Lambda's payload limit when the corpus is read.

/// One part of a body.
#[derive(Clone, Debug, PartialEq)]
enum Part {
    /// These bytes.
    Bytes(Vec<u8>),
    /// These bytes, this many times.
    Repeat(Vec<u8>, usize),
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Bytes(bytes) => bytes.len(),
            Part::Repeat(unit, times) => unit.len().saturating_mul(*times),
        }
    }
}

/// A request body made on demand from its parts, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LazyBody {
    parts: Vec<Part>,
}

impl LazyBody {
    /// A body of exactly these bytes.
    pub(crate) fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        LazyBody::default().then(bytes)
    }

    /// This body followed by `bytes`.
    pub(crate) fn then(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        let bytes = bytes.into();
        if !bytes.is_empty() {
            self.parts.push(Part::Bytes(bytes));
        }
        self
    }

    /// This body followed by `unit` repeated `times` times (nothing is made yet).
    pub(crate) fn then_repeat(mut self, unit: impl Into<Vec<u8>>, times: usize) -> Self {
        let unit = unit.into();
        if !unit.is_empty() && times > 0 {
            self.parts.push(Part::Repeat(unit, times));
        }
        self
    }

    /// This body followed by `other`.
    pub(crate) fn then_body(mut self, other: LazyBody) -> Self {
        self.parts.extend(other.parts);
        self
    }

    /// How many bytes the body has (saturating: a body that long is refused before it is made).
    pub(crate) fn len(&self) -> usize {
        self.parts
            .iter()
            .fold(0usize, |total, part| total.saturating_add(part.len()))
    }

    /// The body's bytes, made now.
    pub(crate) fn make(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.len());
        for part in &self.parts {
            match part {
                Part::Bytes(bytes) => body.extend_from_slice(bytes),
                Part::Repeat(unit, times) => {
                    // Doubling what is already there: a few large copies, not one per unit
                    // (6 million one-byte copies a body made a corpus of 150 take minutes).
                    let start = body.len();
                    let total = unit.len().saturating_mul(*times);
                    body.extend_from_slice(unit);
                    while body.len() - start < total {
                        let have = body.len() - start;
                        body.extend_from_within(start..start + have.min(total - have));
                    }
                    body.truncate(start + total);
                }
            }
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_its_parts_in_order_and_its_length_is_known_without_making_it() {
        let body = LazyBody::bytes("{\"a\": ")
            .then_repeat("[", 3)
            .then_repeat("]", 3)
            .then("")
            .then_repeat("x", 0)
            .then_body(LazyBody::bytes("}"));
        assert_eq!(body.make(), b"{\"a\": [[[]]]}");
        let odd = LazyBody::bytes("<").then_repeat("ab", 5).then(">");
        assert_eq!(odd.make(), b"<ababababab>");
        assert_eq!(body.len(), body.make().len());
        // A length no machine could hold is still a length, not an allocation.
        let huge = LazyBody::default().then_repeat("xy", usize::MAX);
        assert_eq!(huge.len(), usize::MAX);
    }
}
