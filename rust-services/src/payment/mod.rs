//! Payment: charges an order's total, at most once per order, refusing totals above a limit.

pub mod charge;
pub mod server;
pub mod storage;

pub use server::{Args, serve};
