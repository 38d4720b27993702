//! Order: validates an order, prices it through Discount, charges it through Payment, and keeps it.

pub mod server;
pub mod storage;
pub mod validation;

pub use server::{Args, serve};
