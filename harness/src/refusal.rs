//! Refusals: why a connection was refused, reduced to a small set of classes that every library's words map to.
//!
//! Who refused decides where the reason is read. A client that refuses the server (an untrusted, expired or
//! misnamed certificate, a server that does not speak TLS) knows why and says so: its own error is the reason. A
//! server that refuses the client (no certificate, an untrusted or expired one) often cannot tell it: under TLS 1.3
//! the client finishes its handshake and sends its request before the server has checked its certificate. The
//! Rust servers then send an alert naming the reason, which a client reports only if it reads before it writes
//! again (tonic and reqwest sometimes do, sometimes report the reset); the Python servers close without an alert.
//! So the reason is read where it is always written: the server's log (`tls handshake failed ... error=...` from
//! every server of ours; grpcio logs its own `Handshake failed with error ...`). A client's report must agree with
//! that reason or be the unspecific [`Refusal::Closed`] ([`Refusal::reported_as`]).

use serde::Serialize;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The client does not trust the server certificate's issuer.
    UntrustedServer,
    /// The server certificate does not name the server the client asked for.
    NameMismatch,
    /// The server certificate has expired.
    Expired,
    /// The server certificate is not valid yet.
    NotYetValid,
    /// The server presented a CA certificate as its own.
    CaAsServer,
    /// The server wants a client certificate and got none.
    ClientCertRequired,
    /// The server does not trust the client certificate's issuer.
    ClientCertUntrusted,
    /// The client certificate has expired.
    ClientCertExpired,
    /// The client certificate is not valid yet.
    ClientCertNotYetValid,
    /// The client certificate is not for client authentication (no clientAuth usage).
    ClientCertWrongUsage,
    /// The server refused the client certificate for another reason (a CA certificate, say).
    ClientCertRejected,
    /// One side spoke TLS, the other did not.
    ProtocolMismatch,
    /// The peer closed or reset the connection and said nothing the client could read.
    Closed,
}

/// Whose words are classified: the same text can mean opposite things (`UnknownIssuer` is an untrusted server to a
/// client, an untrusted client to a server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A client library's error.
    Client,
    /// A server's log line.
    Server,
}

impl Refusal {
    /// Its name in snapshots and tables.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::UntrustedServer => "untrusted_server",
            Refusal::NameMismatch => "name_mismatch",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::CaAsServer => "ca_as_server",
            Refusal::ClientCertRequired => "client_cert_required",
            Refusal::ClientCertUntrusted => "client_cert_untrusted",
            Refusal::ClientCertExpired => "client_cert_expired",
            Refusal::ClientCertNotYetValid => "client_cert_not_yet_valid",
            Refusal::ClientCertWrongUsage => "client_cert_wrong_usage",
            Refusal::ClientCertRejected => "client_cert_rejected",
            Refusal::ProtocolMismatch => "protocol_mismatch",
            Refusal::Closed => "closed",
        }
    }

    /// Whether a client may report a refusal for this reason as `reported`: the reason itself; the TLS alert for it
    /// (TLS has one alert, certificate_expired, for a certificate that has expired or is not valid yet); or, for a
    /// refusal the server made, [`Refusal::Closed`]: the server said nothing, or the client did not read it.
    pub fn reported_as(self, reported: Refusal) -> bool {
        let by_server = matches!(
            self,
            Refusal::ClientCertRequired
                | Refusal::ClientCertUntrusted
                | Refusal::ClientCertExpired
                | Refusal::ClientCertNotYetValid
                | Refusal::ClientCertWrongUsage
                | Refusal::ClientCertRejected
                | Refusal::ProtocolMismatch
        );
        reported == self
            || (self == Refusal::ClientCertNotYetValid && reported == Refusal::ClientCertExpired)
            || (by_server && reported == Refusal::Closed)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The class of an error text from `side`, or `None` if it says nothing these rules know.
pub fn classify(side: Side, text: &str) -> Option<Refusal> {
    let lower = text.to_ascii_lowercase();
    let rules = match side {
        Side::Client => CLIENT_RULES,
        Side::Server => SERVER_RULES,
    };
    rules
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| lower.contains(n)))
        .map(|&(_, refusal)| refusal)
}

type Rules = &'static [(&'static [&'static str], Refusal)];

/// What client libraries say (lower case), most specific first: the first rule with a matching needle wins. The
/// sources: rustls (tonic, reqwest), BoringSSL through grpcio, OpenSSL through Python's ssl (aiohttp), hyper, h2.
const CLIENT_RULES: Rules = &[
    // Alerts from the server about our certificate: rustls `received fatal alert: X`, OpenSSL `alert x`.
    (
        &["alert: certificaterequired", "alert certificate required"],
        Refusal::ClientCertRequired,
    ),
    (
        &["alert: unknownca", "alert unknown ca"],
        Refusal::ClientCertUntrusted,
    ),
    (
        &["alert: certificateexpired", "alert certificate expired"],
        Refusal::ClientCertExpired,
    ),
    (
        &[
            "alert: unsupportedcertificate",
            "alert unsupported certificate",
        ],
        Refusal::ClientCertWrongUsage,
    ),
    (
        &[
            "alert: badcertificate",
            "alert bad certificate",
            "alert: certificateunknown",
            "alert certificate unknown",
        ],
        Refusal::ClientCertRejected,
    ),
    // Our own verdict on the server's certificate.
    (
        &["unknownissuer", "unable to get local issuer certificate"],
        Refusal::UntrustedServer,
    ),
    (
        &[
            "not valid for name",
            "hostname mismatch",
            "hostname verification check failed",
        ],
        Refusal::NameMismatch,
    ),
    (
        &["certificate expired", "certificate has expired"],
        Refusal::Expired,
    ),
    (
        &["certificate not valid yet", "certificate is not yet valid"],
        Refusal::NotYetValid,
    ),
    (&["causedasendentity"], Refusal::CaAsServer),
    // Bytes that are not the protocol we speak: TLS records read as HTTP or HTTP/2, plaintext read as TLS.
    (
        &[
            "invalidcontenttype",
            "wrong_version_number",
            "wrong version number",
            "invalid http version parsed",
            "expected http/",
            "frame with invalid size",
        ],
        Refusal::ProtocolMismatch,
    ),
    // The connection ended, no reason given.
    (
        &[
            "broken pipe",
            "connection reset",
            "connection closed",
            "socket closed",
            "tsi_data_corrupted",
            "without sending tls close_notify",
            "server disconnected",
        ],
        Refusal::Closed,
    ),
];

/// What servers log when a handshake fails (lower case): rustls through our `tls handshake failed ... error=`
/// lines, OpenSSL through the Python services' same lines, BoringSSL in grpcio's `Handshake failed with error`.
const SERVER_RULES: Rules = &[
    (
        &[
            "peer sent no certificates",
            "peer did not return a certificate",
            "peer_did_not_return_a_certificate",
        ],
        Refusal::ClientCertRequired,
    ),
    (
        &["unknownissuer", "unable to get local issuer certificate"],
        Refusal::ClientCertUntrusted,
    ),
    (
        &["certificate expired", "certificate has expired"],
        Refusal::ClientCertExpired,
    ),
    (
        &["certificate not valid yet", "certificate is not yet valid"],
        Refusal::ClientCertNotYetValid,
    ),
    (
        &[
            "does not allow extended key usage",
            "unsupported certificate purpose",
            "unsuitable certificate purpose",
        ],
        Refusal::ClientCertWrongUsage,
    ),
    (
        &["causedasendentity", "invalid ca certificate"],
        Refusal::ClientCertRejected,
    ),
    (
        &[
            "invalidcontenttype",
            "corrupt message",
            "http request",
            "http_request",
            "wrong version number",
            "wrong_version_number",
        ],
        Refusal::ProtocolMismatch,
    ),
];

/// Whether a server log line reports a failed TLS handshake (ours or grpcio's).
pub fn is_handshake_failure(line: &str) -> bool {
    line.to_ascii_lowercase().contains("handshake failed")
}

/// An error and every error under it, `outer <- inner <- ...`: libraries wrap the TLS or socket error that says why.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(" <- ")
}
