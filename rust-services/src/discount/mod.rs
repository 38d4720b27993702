//! Discount: the tutorial's gRPC service that prices a product for a customer.

pub mod pricing;
pub mod server;

pub use server::{Args, serve};
