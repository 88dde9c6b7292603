//! The operator's own use cases: the audit log and FX rates.

pub mod audit;
pub mod fx;
