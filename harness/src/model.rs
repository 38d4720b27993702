//! The vocabulary of a stack: which services, in which language, secured how.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A reference service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// The tutorial's Discount gRPC service.
    Discount,
    /// The book's Payment gRPC service: one charge per order.
    Payment,
    /// The book's Order gRPC service; calls Discount and Payment.
    Order,
    /// The tutorial's Catalog HTTP service; calls Discount.
    Catalog,
    /// gRPC's interop TestService (`grpc.testing`), for the interop spec's test cases.
    TestServer,
}

/// How a service is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC, with the standard health service.
    Grpc,
    /// HTTP, with `GET /healthz`.
    Http,
}

impl Service {
    /// Every service, in start order (upstreams first).
    pub const ALL: [Service; 5] = [
        Service::Discount,
        Service::Payment,
        Service::Order,
        Service::Catalog,
        Service::TestServer,
    ];

    /// Its name: the binary, the Python module, the certificate identity and the flag prefix (`--discount-addr`).
    pub fn name(self) -> &'static str {
        match self {
            Service::Discount => "discount",
            Service::Payment => "payment",
            Service::Order => "order",
            Service::Catalog => "catalog",
            Service::TestServer => "interop-server",
        }
    }

    /// What it speaks.
    pub fn protocol(self) -> Protocol {
        match self {
            Service::Discount | Service::Payment | Service::Order | Service::TestServer => {
                Protocol::Grpc
            }
            Service::Catalog => Protocol::Http,
        }
    }

    /// The services it calls.
    pub fn upstreams(self) -> &'static [Service] {
        match self {
            Service::Discount | Service::Payment | Service::TestServer => &[],
            Service::Order => &[Service::Discount, Service::Payment],
            Service::Catalog => &[Service::Discount],
        }
    }

    /// Whether it keeps data in a database file (`--db PATH`).
    pub fn has_database(self) -> bool {
        matches!(self, Service::Order | Service::Payment)
    }
}

/// An implementation: an id of the registry (see [`crate::registry`]). The name is kept from the days when the
/// implementations were a closed set of languages.
pub type Lang = crate::registry::Impl;

/// How every hop of a stack is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// No TLS (only to test refusals).
    Plaintext,
    /// Servers authenticate with certificates from the stack's CA.
    Tls,
    /// Clients authenticate too.
    #[serde(rename = "mtls")]
    MutualTls,
}

impl Security {
    /// The modes the contract tests run in.
    pub const AUTHENTICATED: [Security; 2] = [Security::Tls, Security::MutualTls];

    /// Its name in flags, test names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Security::Plaintext => "plaintext",
            Security::Tls => "tls",
            Security::MutualTls => "mtls",
        }
    }

    /// Whether servers speak TLS.
    pub fn tls(self) -> bool {
        self != Security::Plaintext
    }

    /// Whether clients present certificates.
    pub fn mutual(self) -> bool {
        self == Security::MutualTls
    }
}

macro_rules! named {
    ($type:ty, $what:literal, [$($variant:expr),+]) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $type {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                [$($variant),+]
                    .into_iter()
                    .find(|v| v.name() == s)
                    .ok_or_else(|| {
                        let known: Vec<&str> = [$($variant),+].iter().map(|v| v.name()).collect();
                        format!("unknown {} {s:?} (known: {})", $what, known.join(", "))
                    })
            }
        }
    };
}

named!(
    Service,
    "service",
    [
        Service::Discount,
        Service::Payment,
        Service::Order,
        Service::Catalog,
        Service::TestServer
    ]
);
named!(
    Security,
    "security mode",
    [Security::Plaintext, Security::Tls, Security::MutualTls]
);
