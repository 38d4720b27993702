//! Catalog: the tutorial's HTTP `/products` service, pricing every product through Discount.

pub mod data;
pub mod render;
pub mod server;

pub use server::{Args, serve};
