//! The Lambda function that serves a CatBoost model.
//!
//! A request travels `event -> FeatureEngineering -> PredictionStage -> response`.
pub mod catboost;
pub mod features;
