//! The gate that verifies a Lambda container image before it is pushed.
