//! Reference services for `interop`: the tutorial's Discount (gRPC) and Catalog (HTTP, calls Discount), and the
//! book's Order (gRPC, calls Discount and Payment) and Payment (gRPC).
//!
//! Every service follows one command-line contract, shared with the Python twins in `python-services/`:
//! `--listen HOST:PORT`, `--tls-cert/--tls-key`, `--client-ca`, `--ca`, `--cert/--key`, upstream addresses, and a
//! `READY <host>:<port>` line on stdout once serving. The binaries are thin: they parse flags and call `serve`.
//!
//! ```
//! use interop_services::discount::pricing::apply_discount;
//! assert_eq!(apply_discount(1, 99_999), Some((0.1, 89_999)));
//! ```

pub mod auth;
pub mod call;
pub mod catalog;
pub mod cli;
pub mod deadline;
pub mod discount;
pub mod lifecycle;
pub mod order;
pub mod payment;
pub mod proto;
pub mod rpc;
pub mod sqlite;
pub mod testing;
pub mod tls;
