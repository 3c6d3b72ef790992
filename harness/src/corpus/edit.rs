//! Edits of a JSON request at a path in the `records[0].loan.amount` syntax: how the own corpus
//! describes a case as one change of its base request, and how generated payloads mutate a
//! golden event.

use serde_json::Value;

/// A path step: an object key or an array index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Parses `records[0].applicant.income.annual` into steps.
fn steps(path: &str) -> Result<Vec<Step<'_>>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped
                .find(']')
                .ok_or_else(|| format!("unclosed [ in {path}"))?;
            let index = stripped[..end]
                .parse()
                .map_err(|_| format!("bad index in {path}"))?;
            out.push(Step::Index(index));
            rest = &stripped[end + 1..];
        }
    }
    if out.is_empty() {
        return Err("empty path".to_owned());
    }
    Ok(out)
}

pub(super) fn lookup<'v>(value: &'v Value, path: &str) -> Result<&'v Value, String> {
    let mut node = value;
    for step in steps(path)? {
        node = match step {
            Step::Key(k) => node.get(k),
            Step::Index(i) => node.get(i),
        }
        .ok_or_else(|| format!("{path}: no such location in the base request"))?;
    }
    Ok(node)
}

/// Sets (`Some`) or removes (`None`) the value at `path` (`records[0].loan.amount` syntax);
/// setting may create the last object key.
pub(crate) fn edit_json(
    request: &mut Value,
    path: &str,
    value: Option<Value>,
) -> Result<(), String> {
    let steps = steps(path)?;
    let (last, parents) = steps.split_last().ok_or("empty path")?;
    let mut node = request;
    for step in parents {
        node = match step {
            Step::Key(k) => node.get_mut(*k),
            Step::Index(i) => node.get_mut(*i),
        }
        .ok_or_else(|| format!("{path}: no such location in the base request"))?;
    }
    match (last, value, node) {
        (Step::Key(k), Some(v), Value::Object(map)) => {
            map.insert((*k).to_owned(), v);
        }
        (Step::Key(k), None, Value::Object(map)) => {
            map.remove(*k)
                .ok_or_else(|| format!("{path}: nothing to remove"))?;
        }
        (Step::Index(i), Some(v), Value::Array(items)) if *i < items.len() => items[*i] = v,
        (Step::Index(i), None, Value::Array(items)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => return Err(format!("{path}: no such location in the base request")),
    }
    Ok(())
}
