//! The Lambda function that serves a CatBoost model.
//!
//! A request travels `event -> FeatureEngineering -> PredictionStage -> response`.

pub mod features;
mod handler;
mod prediction;

pub use handler::{
    COMPILED_MODEL_FILE, Function, FunctionError, InitError, MAX_RECORDS, PredictionRecord,
    Response,
};
pub use prediction::{ModelMismatch, PredictionError, PredictionStage, Scored};
