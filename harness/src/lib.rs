//! `interop`: brings up polyglot gRPC stacks, with certificates it makes itself, so that tests can check that
//! every client language against every server language gives the same TLS-authenticated answers.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use interop::{Lang, Security, Service, Stack};
//! let stack = Stack::builder()
//!     .service(Service::Discount, Lang::named("python"))
//!     .service(Service::Catalog, Lang::named("rust"))
//!     .security(Security::MutualTls)
//!     .start()
//!     .await?;
//! println!("{}", stack.describe()?);
//! # Ok(()) }
//! ```

pub mod backend;
pub mod caller;
pub mod certs;
pub mod check;
pub mod clients;
pub mod contract;
pub mod docker;
pub mod images;
pub mod matrix;
pub mod model;
pub mod orphans;
pub mod python;
pub mod ready;
pub mod refusal;
pub mod registry;
pub mod report;
pub mod results;
pub mod runtime;
pub mod scratch;
pub mod stack;
pub mod workspace;

pub use backend::Backend;
pub use certs::BadCert;
pub use model::{Lang, Protocol, Security, Service};
pub use registry::Impl;
pub use stack::{Stack, StackBuilder, StackPool};
