//! Arbitrary bytes as a CatBoost JSON export (`Model::from_json`): never a panic. A model that
//! loads predicts an all-missing row and an all-zero row without panicking, and its compiled
//! form loads back (`Model::from_compiled`) into a model with the same predictions.
#![no_main]

use catboost_eval::{FeatureKind, FeatureValue, Model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(model) = Model::from_json(bytes) else {
        return;
    };
    let compiled = model.to_compiled();
    let back = Model::from_compiled(&compiled).expect("a compiled model loads back");
    assert_eq!(back.to_compiled(), compiled, "compiling is not stable");
    for (float, cat) in [(f64::NAN, ""), (0.0, "0")] {
        let row: Vec<FeatureValue<'_>> = model
            .feature_kinds()
            .iter()
            .map(|k| match k {
                FeatureKind::Float => FeatureValue::Float(float),
                FeatureKind::Categorical => FeatureValue::Categorical(cat),
            })
            .collect();
        let a = model
            .predict(&row)
            .expect("a row of the right kinds evaluates");
        let b = back
            .predict(&row)
            .expect("a row of the right kinds evaluates");
        // Compare bits: NaN raw values (a model with NaN leaves would be refused) must match too.
        let bits =
            |p: &catboost_eval::Prediction| p.raw().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "the compiled model predicts otherwise");
    }
});
