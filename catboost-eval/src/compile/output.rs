//! The output: what the loss makes of raw values, and the class labels.

use crate::ClassLabel;
use crate::error::LoadError;
use crate::json::JsonModel;
use crate::model::Output;
use serde_json::Value;

/// Refuses CTR models whose JSON export is known to be lossy in CatBoost 1.2.10 (CatBoost's own
/// evaluator, reloading the exported JSON, disagrees with the trained model): the export keeps
/// one statistics table per CTR identifier, while these models learn one table per target
/// (multi-target regression) or per target border (mean CTRs with several target borders).
pub(super) fn refuse_lossy_ctrs(
    json: &JsonModel,
    dim: usize,
    output: &Output,
) -> Result<(), LoadError> {
    if dim > 1 && matches!(output, Output::Regression { .. }) {
        return Err(LoadError::unsupported(
            "features_info.ctrs",
            "CTR features in a multi-target regression model (the JSON export keeps the \
             CTR tables of only one target)",
        ));
    }
    let Some(cfp) = json
        .model_info
        .as_ref()
        .and_then(|m| m.params.as_ref())
        .and_then(|p| p.get("cat_feature_params"))
    else {
        return Ok(());
    };
    let has_mean_ctr = json.features_info.ctrs.iter().any(|c| {
        matches!(
            c.ctr_type.as_str(),
            "BinarizedTargetMeanValue" | "FloatTargetMeanValue"
        )
    });
    if !has_mean_ctr {
        return Ok(());
    }
    let mut descriptions: Vec<(String, &Value)> = Vec::new();
    for key in ["simple_ctrs", "combinations_ctrs"] {
        if let Some(list) = cfp.get(key).and_then(Value::as_array) {
            for (i, d) in list.iter().enumerate() {
                descriptions.push((format!("{key}[{i}]"), d));
            }
        }
    }
    if let Some(per) = cfp.get("per_feature_ctrs").and_then(Value::as_object) {
        for (f, list) in per {
            for (i, d) in list.as_array().into_iter().flatten().enumerate() {
                descriptions.push((format!("per_feature_ctrs[{f:?}][{i}]"), d));
            }
        }
    }
    for (path, d) in descriptions {
        let mean = matches!(
            d.get("ctr_type").and_then(Value::as_str),
            Some("BinarizedTargetMeanValue" | "FloatTargetMeanValue")
        );
        let borders = d
            .get("target_binarization")
            .and_then(|t| t.get("border_count"))
            .and_then(Value::as_u64)
            .unwrap_or(1);
        if mean && borders > 1 {
            return Err(LoadError::unsupported(
                format!(
                    "model_info.params.cat_feature_params.{path}.target_binarization.border_count"
                ),
                format!(
                    "mean-value CTR with {borders} target borders (the JSON export keeps the \
                     table of only one target border)"
                ),
            ));
        }
    }
    Ok(())
}

fn loss_type(json: &JsonModel) -> Option<&str> {
    json.model_info
        .as_ref()?
        .params
        .as_ref()?
        .get("loss_function")?
        .get("type")?
        .as_str()
}

pub(super) fn compile(json: &JsonModel, dim: usize) -> Result<Output, LoadError> {
    let class_params = json
        .model_info
        .as_ref()
        .and_then(|m| m.class_params.as_ref());
    let labels = match class_params {
        Some(cp) if !cp.class_names.is_empty() => {
            let ty = cp.class_label_type.as_deref();
            cp.class_names
                .iter()
                .enumerate()
                .map(|(i, v)| label(v, ty, &format!("model_info.class_params.class_names[{i}]")))
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => Vec::new(),
    };
    let loss = loss_type(json);
    let path = "model_info.params.loss_function.type";
    let classifier = match loss {
        Some("Logloss" | "CrossEntropy") => Some(false),
        Some("MultiClass") => Some(true),
        Some("MultiClassOneVsAll") => {
            return Ok(Output::OneVsAll {
                labels: class_labels(labels, dim, path)?,
            });
        }
        Some(l @ ("RMSEWithUncertainty" | "MultiLogloss" | "MultiCrossEntropy")) => {
            return Err(LoadError::unsupported(path, format!("loss function {l:?}")));
        }
        Some(_) => None,
        None if !labels.is_empty() => Some(dim > 1),
        None => None,
    };
    match classifier {
        Some(false) if dim == 1 => Ok(Output::Binary {
            labels: class_labels(labels, 2, path)?,
        }),
        Some(true) if dim >= 2 => Ok(Output::MultiClass {
            labels: class_labels(labels, dim, path)?,
        }),
        Some(_) => Err(LoadError::inconsistent(
            path,
            format!("loss {loss:?} does not fit a model of dimension {dim}"),
        )),
        None => Ok(Output::Regression {
            exponent: matches!(loss, Some("Poisson" | "Tweedie")),
        }),
    }
}

/// Class labels for `n` classes: the model's own names, or `0..n` when it has none.
fn class_labels(
    labels: Vec<ClassLabel>,
    n: usize,
    path: &str,
) -> Result<Vec<ClassLabel>, LoadError> {
    if labels.is_empty() {
        return Ok((0..n as i64).map(ClassLabel::Integer).collect());
    }
    if labels.len() != n {
        return Err(LoadError::inconsistent(
            "model_info.class_params.class_names",
            format!("{} class names for {n} classes ({path})", labels.len()),
        ));
    }
    Ok(labels)
}

fn label(v: &Value, ty: Option<&str>, path: &str) -> Result<ClassLabel, LoadError> {
    let bad = || LoadError::inconsistent(path, format!("class name {v} does not fit type {ty:?}"));
    Ok(match (ty, v) {
        (Some("Boolean"), Value::Bool(b)) => ClassLabel::Boolean(*b),
        (Some("String"), Value::String(s)) => ClassLabel::String(s.clone()),
        (Some("Integer"), Value::Number(n)) => ClassLabel::Integer(n.as_i64().ok_or_else(bad)?),
        (Some("Float"), Value::Number(n)) => ClassLabel::Float(n.as_f64().ok_or_else(bad)?),
        (None, Value::Bool(b)) => ClassLabel::Boolean(*b),
        (None, Value::String(s)) => ClassLabel::String(s.clone()),
        (None, Value::Number(n)) => match n.as_i64() {
            Some(i) => ClassLabel::Integer(i),
            None => ClassLabel::Float(n.as_f64().ok_or_else(bad)?),
        },
        (Some("Boolean" | "String" | "Integer" | "Float"), _) => return Err(bad()),
        (Some(other), _) => {
            return Err(LoadError::unsupported(
                "model_info.class_params.class_label_type",
                format!("class label type {other:?}"),
            ));
        }
        (None, _) => return Err(bad()),
    })
}
