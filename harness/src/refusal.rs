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

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts seen from each library in the refusal matrix (tests/refusals.rs), shortened where they repeat.
    const CLIENT_TEXTS: &[(&str, Refusal)] = &[
        // tonic and reqwest (rustls): their own verdicts.
        (
            "UNAVAILABLE: transport error <- invalid peer certificate: UnknownIssuer",
            Refusal::UntrustedServer,
        ),
        (
            "invalid peer certificate: certificate not valid for name \"discount\"; certificate is only valid for DnsName(\"wrong-name.invalid\")",
            Refusal::NameMismatch,
        ),
        (
            "invalid peer certificate: certificate expired: verification time 1795286965 (UNIX), but certificate is not valid after 1795200565 (86400 seconds ago)",
            Refusal::Expired,
        ),
        (
            "invalid peer certificate: certificate not valid yet: verification time 1795286967 (UNIX), but certificate is not valid before 1795373367 (86400 seconds in future)",
            Refusal::NotYetValid,
        ),
        (
            "invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))",
            Refusal::CaAsServer,
        ),
        (
            "client error (Connect) <- received corrupt message of type InvalidContentType",
            Refusal::ProtocolMismatch,
        ),
        // tonic and reqwest: the server's alert, when read.
        (
            "UNKNOWN: transport error <- connection error <- received fatal alert: CertificateRequired",
            Refusal::ClientCertRequired,
        ),
        (
            "connection error <- received fatal alert: UnknownCA",
            Refusal::ClientCertUntrusted,
        ),
        (
            "connection error <- received fatal alert: CertificateExpired",
            Refusal::ClientCertExpired,
        ),
        (
            "connection error <- received fatal alert: UnsupportedCertificate",
            Refusal::ClientCertWrongUsage,
        ),
        (
            "connection error <- received fatal alert: CertificateUnknown",
            Refusal::ClientCertRejected,
        ),
        // tonic and reqwest: no reason.
        (
            "CANCELLED: operation was canceled <- connection closed",
            Refusal::Closed,
        ),
        (
            "UNKNOWN: connection error <- stream closed because of a broken pipe",
            Refusal::Closed,
        ),
        (
            "connection error <- peer closed connection without sending TLS close_notify: https://docs.rs/rustls/latest/rustls/manual/_03_howto/index.html#unexpected-eof",
            Refusal::Closed,
        ),
        (
            "client error (SendRequest) <- connection error <- Connection reset by peer (os error 104)",
            Refusal::Closed,
        ),
        (
            "client error (SendRequest) <- connection closed before message completed",
            Refusal::Closed,
        ),
        // tonic and reqwest, plaintext against TLS: the alert read as HTTP.
        (
            "INTERNAL: h2 protocol error: http2 error <- connection error detected: frame with invalid size",
            Refusal::ProtocolMismatch,
        ),
        (
            "client error (SendRequest) <- invalid HTTP version parsed",
            Refusal::ProtocolMismatch,
        ),
        // grpcio (BoringSSL).
        (
            "UNAVAILABLE: failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:42277: Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate: OK",
            Refusal::UntrustedServer,
        ),
        (
            "UNAVAILABLE: failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:35229: Custom verification check failed with error: UNAUTHENTICATED: Hostname Verification Check failed.",
            Refusal::NameMismatch,
        ),
        (
            "CERTIFICATE_VERIFY_FAILED: certificate has expired: OK",
            Refusal::Expired,
        ),
        (
            "CERTIFICATE_VERIFY_FAILED: certificate is not yet valid: OK",
            Refusal::NotYetValid,
        ),
        (
            "Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER: Invalid certificate verification context: OK",
            Refusal::ProtocolMismatch,
        ),
        (
            "UNAVAILABLE: failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:44563: Unwrap failed (TSI_DATA_CORRUPTED)",
            Refusal::Closed,
        ),
        (
            "UNAVAILABLE: failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:41405: Socket closed",
            Refusal::Closed,
        ),
        // aiohttp (OpenSSL).
        (
            "ClientConnectorCertificateError: Cannot connect to host 127.0.0.1:37831 <- SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)",
            Refusal::UntrustedServer,
        ),
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'catalog'. (_ssl.c:1006)",
            Refusal::NameMismatch,
        ),
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)",
            Refusal::Expired,
        ),
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate is not yet valid (_ssl.c:1006)",
            Refusal::NotYetValid,
        ),
        (
            "SSLError: [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2580)",
            Refusal::ClientCertRequired,
        ),
        (
            "SSLError: [SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:2580)",
            Refusal::ClientCertUntrusted,
        ),
        (
            "SSLError: [SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert certificate expired (_ssl.c:2580)",
            Refusal::ClientCertExpired,
        ),
        (
            "SSLError: [SSL: SSLV3_ALERT_UNSUPPORTED_CERTIFICATE] sslv3 alert unsupported certificate (_ssl.c:2580)",
            Refusal::ClientCertWrongUsage,
        ),
        (
            "SSLError: [SSL: SSLV3_ALERT_CERTIFICATE_UNKNOWN] sslv3 alert certificate unknown (_ssl.c:2580)",
            Refusal::ClientCertRejected,
        ),
        (
            "SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
            Refusal::ProtocolMismatch,
        ),
        (
            "ClientResponseError: 400, message='Invalid HTTP status line' <- BadStatusLine: 400, message:\n    Expected HTTP/, RTSP/ or ICE/:\n    b'\\x15\\x03\\x03\\x00\\x02\\x022'",
            Refusal::ProtocolMismatch,
        ),
        (
            "ServerDisconnectedError: Server disconnected",
            Refusal::Closed,
        ),
        (
            "ClientOSError: [Errno 104] Connection reset by peer <- ConnectionResetError: [Errno 104] Connection reset by peer",
            Refusal::Closed,
        ),
    ];

    /// Log lines of each server when it refused a handshake.
    const SERVER_TEXTS: &[(&str, Refusal)] = &[
        // Rust services (rustls).
        (
            "WARN interop_services::tls: tls handshake failed peer=127.0.0.1:40514 error=peer sent no certificates",
            Refusal::ClientCertRequired,
        ),
        (
            "tls handshake failed peer=127.0.0.1:40514 error=invalid peer certificate: UnknownIssuer",
            Refusal::ClientCertUntrusted,
        ),
        (
            "tls handshake failed peer=127.0.0.1:40514 error=invalid peer certificate: certificate expired: verification time 1795287779 (UNIX), but certificate is not valid after 1795201379 (86400 seconds ago)",
            Refusal::ClientCertExpired,
        ),
        (
            "tls handshake failed peer=127.0.0.1:40514 error=invalid peer certificate: certificate not valid yet: verification time 1795287781 (UNIX), but certificate is not valid before 1795374181 (86400 seconds in future)",
            Refusal::ClientCertNotYetValid,
        ),
        (
            "tls handshake failed peer=127.0.0.1:40514 error=invalid peer certificate: certificate does not allow extended key usage for client authentication, allows server authentication",
            Refusal::ClientCertWrongUsage,
        ),
        (
            "tls handshake failed peer=127.0.0.1:40514 error=invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))",
            Refusal::ClientCertRejected,
        ),
        (
            "tls handshake failed peer=127.0.0.1:40514 error=received corrupt message of type InvalidContentType",
            Refusal::ProtocolMismatch,
        ),
        // The Python HTTPS server (OpenSSL).
        (
            "WARNING interop.tls: tls handshake failed peer=127.0.0.1:46072 error=[SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE] peer did not return a certificate",
            Refusal::ClientCertRequired,
        ),
        (
            "error=[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate",
            Refusal::ClientCertUntrusted,
        ),
        (
            "error=[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired",
            Refusal::ClientCertExpired,
        ),
        (
            "error=[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate is not yet valid",
            Refusal::ClientCertNotYetValid,
        ),
        (
            "error=[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unsuitable certificate purpose",
            Refusal::ClientCertWrongUsage,
        ),
        (
            "error=[SSL: HTTP_REQUEST] http request",
            Refusal::ProtocolMismatch,
        ),
        // grpcio's own log (BoringSSL).
        (
            "I1121 18:51:12.446883   32615 ssl_transport_security.cc:2563] Handshake failed with error SSL_ERROR_SSL: error:100000c0:SSL routines:OPENSSL_internal:PEER_DID_NOT_RETURN_A_CERTIFICATE: Invalid certificate verification context",
            Refusal::ClientCertRequired,
        ),
        (
            "Handshake failed with error SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate",
            Refusal::ClientCertUntrusted,
        ),
        (
            "Handshake failed with error SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: certificate has expired",
            Refusal::ClientCertExpired,
        ),
        (
            "Handshake failed with error SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: certificate is not yet valid",
            Refusal::ClientCertNotYetValid,
        ),
        (
            "Handshake failed with error SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: unsupported certificate purpose",
            Refusal::ClientCertWrongUsage,
        ),
        (
            "Handshake failed with error SSL_ERROR_SSL: error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER: Invalid certificate verification context",
            Refusal::ProtocolMismatch,
        ),
    ];

    #[test]
    fn every_observed_text_has_its_class() {
        for (side, texts) in [(Side::Client, CLIENT_TEXTS), (Side::Server, SERVER_TEXTS)] {
            for &(text, want) in texts {
                assert_eq!(classify(side, text), Some(want), "{side:?}: {text}");
            }
        }
    }

    #[test]
    fn the_same_words_mean_opposite_things_by_side() {
        let text = "invalid peer certificate: UnknownIssuer";
        assert_eq!(classify(Side::Client, text), Some(Refusal::UntrustedServer));
        assert_eq!(
            classify(Side::Server, text),
            Some(Refusal::ClientCertUntrusted)
        );
    }

    #[test]
    fn unknown_texts_have_no_class() {
        assert_eq!(classify(Side::Client, "deadline exceeded"), None);
        assert_eq!(classify(Side::Server, "serving discount"), None);
    }

    #[test]
    fn what_a_client_may_report() {
        assert!(Refusal::ClientCertRequired.reported_as(Refusal::ClientCertRequired));
        assert!(Refusal::ClientCertRequired.reported_as(Refusal::Closed));
        assert!(Refusal::ClientCertNotYetValid.reported_as(Refusal::ClientCertExpired));
        assert!(!Refusal::ClientCertRequired.reported_as(Refusal::ClientCertUntrusted));
        // A client that refuses the server knows why: "closed" is not an answer there.
        assert!(!Refusal::UntrustedServer.reported_as(Refusal::Closed));
    }

    #[test]
    fn handshake_failures_are_recognised_in_every_server_log() {
        assert!(is_handshake_failure(
            "WARN interop_services::tls: tls handshake failed peer=1.2.3.4:5 error=x"
        ));
        assert!(is_handshake_failure(
            "I1121 ssl_transport_security.cc:2563] Handshake failed with error SSL_ERROR_SSL"
        ));
        assert!(!is_handshake_failure(
            "INFO interop.discount: serving discount"
        ));
    }
}
