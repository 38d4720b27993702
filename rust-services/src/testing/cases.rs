//! The interop spec's client test cases, one function each, named as the spec names them; sizes and values are
//! the spec's, as named constants. A case returns the first thing it saw that the spec does not allow.

use std::fmt;
use std::time::Duration;

use tokio::sync::mpsc;
use tonic::codec::CompressionEncoding::Gzip;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request, Status, Streaming};

use super::client::RecordingChannel;
use super::{ECHO_INITIAL, ECHO_TRAILING_BIN, zeros};
use crate::proto::grpc_testing::test_service_client::TestServiceClient;
use crate::proto::grpc_testing::unimplemented_service_client::UnimplementedServiceClient;
use crate::proto::grpc_testing::{
    BoolValue, EchoStatus, Empty, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingOutputCallRequest, StreamingOutputCallResponse,
};

/// large_unary's request payload size.
pub const LARGE_REQUEST_SIZE: usize = 271_828;
/// large_unary's response payload size.
pub const LARGE_RESPONSE_SIZE: i32 = 314_159;
/// client_streaming's request payload sizes.
pub const CLIENT_STREAM_SIZES: [usize; 4] = [27_182, 8, 1_828, 45_904];
/// client_streaming's aggregated size (the sum of [`CLIENT_STREAM_SIZES`]).
pub const CLIENT_STREAM_TOTAL: i32 = 74_922;
/// server_streaming's and ping_pong's response payload sizes.
pub const SERVER_STREAM_SIZES: [i32; 4] = [31_415, 9, 2_653, 58_979];
/// client_compressed_streaming's request payload sizes: compressed, then uncompressed.
pub const COMPRESSED_STREAM_REQUEST_SIZES: [usize; 2] = [27_182, 45_904];
/// client_compressed_streaming's aggregated size.
pub const COMPRESSED_STREAM_TOTAL: i32 = 73_086;
/// server_compressed_streaming's response payload sizes: compressed, then uncompressed.
pub const COMPRESSED_STREAM_RESPONSE_SIZES: [i32; 2] = [31_415, 92_653];
/// The value custom_metadata sends in `x-grpc-test-echo-initial`.
pub const ECHO_INITIAL_VALUE: &str = "test_initial_metadata_value";
/// The value custom_metadata sends in `x-grpc-test-echo-trailing-bin`.
pub const ECHO_TRAILING_VALUE: [u8; 3] = [0xab, 0xab, 0xab];
/// The status status_code_and_message asks for: UNKNOWN and this message.
pub const TEST_STATUS_CODE: i32 = 2;
/// status_code_and_message's message.
pub const TEST_STATUS_MESSAGE: &str = "test status message";
/// special_status_message's message: whitespace, control characters and non-ASCII must survive the trip.
pub const SPECIAL_STATUS_MESSAGE: &str =
    "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n";
/// timeout_on_sleeping_server's deadline.
pub const SLEEPING_SERVER_DEADLINE: Duration = Duration::from_millis(1);
/// timeout_on_sleeping_server's request payload size.
pub const SLEEPING_SERVER_REQUEST_SIZE: usize = 27_182;

/// Every case, by its spec name.
pub const CASES: [&str; 18] = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
];

/// What a case saw against what the spec wants: printed as `<case>: got X, want Y`.
#[derive(Debug)]
pub struct Mismatch {
    got: String,
    want: String,
}

impl Mismatch {
    /// A mismatch between `got` and `want`.
    pub fn new(got: impl Into<String>, want: impl Into<String>) -> Self {
        Mismatch {
            got: got.into(),
            want: want.into(),
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "got {}, want {}", self.got, self.want)
    }
}

type Outcome = Result<(), Mismatch>;

/// A status as a case reports it: `Unknown "message"`.
fn describe(status: &Status) -> String {
    format!("{:?} {:?}", status.code(), status.message())
}

/// `Ok(value)` or the mismatch of an RPC that should have succeeded.
fn ok<T>(what: &str, result: Result<T, Status>) -> Result<T, Mismatch> {
    result.map_err(|status| {
        Mismatch::new(
            format!("{what} failing with {}", describe(&status)),
            format!("{what} OK"),
        )
    })
}

fn check<T: PartialEq + fmt::Debug>(what: &str, got: T, want: T) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(Mismatch::new(
            format!("{what} {got:?}"),
            format!("{what} {want:?}"),
        ))
    }
}

fn expect_status<T>(
    what: &str,
    result: Result<T, Status>,
    code: Code,
    message: Option<&str>,
) -> Outcome {
    match result {
        Ok(_) => Err(Mismatch::new(
            format!("{what} OK"),
            format!("{what} {code:?}"),
        )),
        Err(status) if status.code() != code || message.is_some_and(|m| m != status.message()) => {
            let want = match message {
                Some(message) => format!("{what} {code:?} {message:?}"),
                None => format!("{what} {code:?}"),
            };
            Err(Mismatch::new(format!("{what} {}", describe(&status)), want))
        }
        Err(_) => Ok(()),
    }
}

/// The payload body of `response`, which must be `size` zero bytes.
fn check_payload(
    what: &str,
    payload: Option<&crate::proto::grpc_testing::Payload>,
    size: i32,
) -> Outcome {
    let body = payload.map(|p| p.body.as_slice()).unwrap_or_default();
    check(&format!("{what} payload size"), body.len(), size as usize)?;
    check(
        &format!("{what} payload all zeros"),
        body.iter().all(|&b| b == 0),
        true,
    )
}

fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_size: LARGE_RESPONSE_SIZE,
        payload: Some(zeros(LARGE_REQUEST_SIZE)),
        ..SimpleRequest::default()
    }
}

fn streaming_request(sizes: &[i32], request_size: usize) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..ResponseParameters::default()
            })
            .collect(),
        payload: (request_size > 0).then(|| zeros(request_size)),
        ..StreamingOutputCallRequest::default()
    }
}

/// A request stream fed by hand: the sender half says when to send and when to half-close (drop it).
fn request_stream<T: Send + 'static>() -> (
    mpsc::Sender<T>,
    impl futures::Stream<Item = T> + Send + 'static,
) {
    let (tx, rx) = mpsc::channel(4);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (tx, stream)
}

/// Every message of a response stream, or the status it ended with.
async fn collect(
    mut stream: Streaming<StreamingOutputCallResponse>,
) -> Result<Vec<StreamingOutputCallResponse>, Status> {
    collect_from(&mut stream).await
}

/// A StreamingOutputCall that must succeed with payloads of the sizes `want`, in order.
async fn check_stream_sizes(
    result: Result<tonic::Response<Streaming<StreamingOutputCallResponse>>, Status>,
    want: &[i32],
) -> Outcome {
    let stream = ok("StreamingOutputCall", result)?;
    let messages = ok(
        "StreamingOutputCall stream",
        collect(stream.into_inner()).await,
    )?;
    let want: Vec<usize> = want.iter().map(|&s| s as usize).collect();
    check("response sizes", sizes(&messages), want)
}

fn sizes(messages: &[StreamingOutputCallResponse]) -> Vec<usize> {
    messages
        .iter()
        .map(|m| m.payload.as_ref().map_or(0, |p| p.body.len()))
        .collect()
}

/// A started ping-pong call: its request sender, its response stream, its cancellation handle.
type PingPong = (
    mpsc::Sender<StreamingOutputCallRequest>,
    Streaming<StreamingOutputCallResponse>,
    tonic::CancellationHandle,
);

/// The interop cases over one channel.
pub struct Cases {
    channel: RecordingChannel,
}

/// Runs the case named `case` over `channel`.
pub async fn run(case: &str, channel: RecordingChannel) -> Outcome {
    let mut cases = Cases { channel };
    match case {
        "empty_unary" => cases.empty_unary().await,
        "large_unary" => cases.large_unary().await,
        "client_streaming" => cases.client_streaming().await,
        "server_streaming" => cases.server_streaming().await,
        "ping_pong" => cases.ping_pong().await,
        "empty_stream" => cases.empty_stream().await,
        "custom_metadata" => cases.custom_metadata().await,
        "status_code_and_message" => cases.status_code_and_message().await,
        "special_status_message" => cases.special_status_message().await,
        "unimplemented_method" => cases.unimplemented_method().await,
        "unimplemented_service" => cases.unimplemented_service().await,
        "cancel_after_begin" => cases.cancel_after_begin().await,
        "cancel_after_first_response" => cases.cancel_after_first_response().await,
        "timeout_on_sleeping_server" => cases.timeout_on_sleeping_server().await,
        "client_compressed_unary" => cases.client_compressed_unary().await,
        "server_compressed_unary" => cases.server_compressed_unary().await,
        "client_compressed_streaming" => cases.client_compressed_streaming().await,
        "server_compressed_streaming" => cases.server_compressed_streaming().await,
        other => Err(Mismatch::new(
            format!("unknown case {other:?}"),
            format!("one of {}", CASES.join(", ")),
        )),
    }
}

impl Cases {
    fn client(&self) -> TestServiceClient<RecordingChannel> {
        TestServiceClient::new(self.channel.clone())
    }

    /// EmptyCall with an empty message succeeds with an empty message.
    pub async fn empty_unary(&mut self) -> Outcome {
        let response = ok("EmptyCall", self.client().empty_call(Empty {}).await)?;
        check("EmptyCall response", response.into_inner(), Empty {})
    }

    /// UnaryCall carries 271828 bytes up and 314159 bytes down.
    pub async fn large_unary(&mut self) -> Outcome {
        let response =
            ok("UnaryCall", self.client().unary_call(large_request()).await)?.into_inner();
        check_payload(
            "UnaryCall response",
            response.payload.as_ref(),
            LARGE_RESPONSE_SIZE,
        )
    }

    /// StreamingInputCall sums the payload sizes of four messages.
    pub async fn client_streaming(&mut self) -> Outcome {
        let requests = CLIENT_STREAM_SIZES.map(|size| StreamingInputCallRequest {
            payload: Some(zeros(size)),
            ..StreamingInputCallRequest::default()
        });
        let response = ok(
            "StreamingInputCall",
            self.client()
                .streaming_input_call(futures::stream::iter(requests))
                .await,
        )?;
        check(
            "aggregated_payload_size",
            response.into_inner().aggregated_payload_size,
            CLIENT_STREAM_TOTAL,
        )
    }

    /// StreamingOutputCall answers with four messages of the sizes asked for.
    pub async fn server_streaming(&mut self) -> Outcome {
        let request = streaming_request(&SERVER_STREAM_SIZES, 0);
        let result = self.client().streaming_output_call(request).await;
        check_stream_sizes(result, &SERVER_STREAM_SIZES).await
    }

    /// FullDuplexCall started with ping_pong's first request: the sender sends the next ones (dropping it
    /// half-closes), the handle cancels the call.
    async fn start_ping_pong(&mut self) -> Result<PingPong, Mismatch> {
        let (tx, requests) = request_stream();
        tx.send(streaming_request(
            &SERVER_STREAM_SIZES[..1],
            CLIENT_STREAM_SIZES[0],
        ))
        .await
        .expect("the request stream is open");
        let mut request = Request::new(requests);
        let cancel = request.cancellation_handle();
        let response = self.client().full_duplex_call(request).await;
        Ok((tx, ok("FullDuplexCall", response)?.into_inner(), cancel))
    }

    /// FullDuplexCall answers each request before the next is sent.
    pub async fn ping_pong(&mut self) -> Outcome {
        let (tx, mut stream, _cancel) = self.start_ping_pong().await?;
        for (i, (&size, &request_size)) in SERVER_STREAM_SIZES
            .iter()
            .zip(&CLIENT_STREAM_SIZES)
            .enumerate()
        {
            if i > 0 {
                tx.send(streaming_request(&[size], request_size))
                    .await
                    .map_err(|_| Mismatch::new("the request stream closed", "it open"))?;
            }
            let message =
                ok("FullDuplexCall stream", stream.message().await)?.ok_or_else(|| {
                    Mismatch::new(
                        format!("the stream ending after {i} responses"),
                        "4 responses",
                    )
                })?;
            check_payload(
                &format!("response {}", i + 1),
                message.payload.as_ref(),
                size,
            )?;
        }
        drop(tx);
        let rest = ok("FullDuplexCall end", collect(stream).await)?;
        check("responses after half-close", rest.len(), 0)
    }

    /// FullDuplexCall with no request answers with no response.
    pub async fn empty_stream(&mut self) -> Outcome {
        let requests = futures::stream::empty::<StreamingOutputCallRequest>();
        let stream = ok(
            "FullDuplexCall",
            self.client().full_duplex_call(requests).await,
        )?;
        let messages = ok("FullDuplexCall stream", collect(stream.into_inner()).await)?;
        check("responses", messages.len(), 0)
    }

    /// The server echoes one metadata entry in its headers and one binary entry in its trailers.
    pub async fn custom_metadata(&mut self) -> Outcome {
        fn with_metadata<T>(message: T) -> Request<T> {
            let mut request = Request::new(message);
            request
                .metadata_mut()
                .insert(ECHO_INITIAL, MetadataValue::from_static(ECHO_INITIAL_VALUE));
            request.metadata_mut().insert_bin(
                ECHO_TRAILING_BIN,
                MetadataValue::from_bytes(&ECHO_TRAILING_VALUE),
            );
            request
        }
        fn check_echo(what: &str, headers: &MetadataMap, trailers: &MetadataMap) -> Outcome {
            let initial = headers.get(ECHO_INITIAL).and_then(|v| v.to_str().ok());
            check(
                &format!("{what} {ECHO_INITIAL}"),
                initial,
                Some(ECHO_INITIAL_VALUE),
            )?;
            let trailing = trailers
                .get_bin(ECHO_TRAILING_BIN)
                .and_then(|v| v.to_bytes().ok());
            check(
                &format!("{what} trailer {ECHO_TRAILING_BIN}"),
                trailing.as_deref(),
                Some(&ECHO_TRAILING_VALUE[..]),
            )
        }

        // tonic merges a unary call's trailers into its response metadata.
        let response = ok(
            "UnaryCall",
            self.client()
                .unary_call(with_metadata(large_request()))
                .await,
        )?;
        check_echo("UnaryCall", response.metadata(), response.metadata())?;
        check_payload(
            "UnaryCall response",
            response.get_ref().payload.as_ref(),
            LARGE_RESPONSE_SIZE,
        )?;

        let request = streaming_request(&[LARGE_RESPONSE_SIZE], LARGE_REQUEST_SIZE);
        let response = ok(
            "FullDuplexCall",
            self.client()
                .full_duplex_call(with_metadata(futures::stream::iter([request])))
                .await,
        )?;
        let headers = response.metadata().clone();
        let mut stream = response.into_inner();
        let messages = ok("FullDuplexCall stream", collect_from(&mut stream).await)?;
        check(
            "FullDuplexCall responses",
            sizes(&messages),
            vec![LARGE_RESPONSE_SIZE as usize],
        )?;
        let trailers = ok("FullDuplexCall trailers", stream.trailers().await)?.unwrap_or_default();
        check_echo("FullDuplexCall", &headers, &trailers)
    }

    /// A status asked for comes back with its code and message, from a unary and a streaming call.
    pub async fn status_code_and_message(&mut self) -> Outcome {
        self.echo_status_unary(TEST_STATUS_MESSAGE).await?;
        let request = StreamingOutputCallRequest {
            response_status: Some(EchoStatus {
                code: TEST_STATUS_CODE,
                message: TEST_STATUS_MESSAGE.into(),
            }),
            ..StreamingOutputCallRequest::default()
        };
        let result = match self
            .client()
            .full_duplex_call(futures::stream::iter([request]))
            .await
        {
            Ok(response) => collect(response.into_inner()).await,
            Err(status) => Err(status),
        };
        expect_status(
            "FullDuplexCall",
            result,
            Code::from_i32(TEST_STATUS_CODE),
            Some(TEST_STATUS_MESSAGE),
        )
    }

    /// A status message with whitespace, control characters and non-ASCII text comes back unchanged.
    pub async fn special_status_message(&mut self) -> Outcome {
        self.echo_status_unary(SPECIAL_STATUS_MESSAGE).await
    }

    async fn echo_status_unary(&mut self, message: &str) -> Outcome {
        let request = SimpleRequest {
            response_status: Some(EchoStatus {
                code: TEST_STATUS_CODE,
                message: message.into(),
            }),
            ..SimpleRequest::default()
        };
        let result = self.client().unary_call(request).await;
        expect_status(
            "UnaryCall",
            result,
            Code::from_i32(TEST_STATUS_CODE),
            Some(message),
        )
    }

    /// TestService/UnimplementedCall answers UNIMPLEMENTED.
    pub async fn unimplemented_method(&mut self) -> Outcome {
        let result = self.client().unimplemented_call(Empty {}).await;
        expect_status("UnimplementedCall", result, Code::Unimplemented, None)
    }

    /// A service the server does not have answers UNIMPLEMENTED.
    pub async fn unimplemented_service(&mut self) -> Outcome {
        let mut client = UnimplementedServiceClient::new(self.channel.clone());
        let result = client.unimplemented_call(Empty {}).await;
        expect_status(
            "UnimplementedService/UnimplementedCall",
            result,
            Code::Unimplemented,
            None,
        )
    }

    /// A call cancelled right after it starts ends CANCELLED (tonic's cancellation handle resets the stream).
    pub async fn cancel_after_begin(&mut self) -> Outcome {
        let (_tx, requests) = request_stream::<StreamingInputCallRequest>();
        let mut request = Request::new(requests);
        request.cancellation_handle().cancel();
        let result = self.client().streaming_input_call(request).await;
        expect_status("StreamingInputCall", result, Code::Cancelled, None)?;
        self.still_usable("after the cancelled call").await
    }

    /// A call cancelled after its first response ends CANCELLED.
    pub async fn cancel_after_first_response(&mut self) -> Outcome {
        let (tx, mut stream, cancel) = self.start_ping_pong().await?;
        let first = ok("FullDuplexCall stream", stream.message().await)?
            .ok_or_else(|| Mismatch::new("the stream ending before a response", "one response"))?;
        check_payload("response 1", first.payload.as_ref(), SERVER_STREAM_SIZES[0])?;
        cancel.cancel();
        let rest = collect_from(&mut stream).await;
        drop(tx);
        expect_status("FullDuplexCall after cancel", rest, Code::Cancelled, None)?;
        self.still_usable("after the cancelled call").await
    }

    /// A cancelled call must leave the channel working.
    async fn still_usable(&mut self, when: &str) -> Outcome {
        ok(
            &format!("EmptyCall {when}"),
            self.client().empty_call(Empty {}).await,
        )
        .map(drop)
    }

    /// A call whose deadline passes while the server waits for more requests ends DEADLINE_EXCEEDED.
    pub async fn timeout_on_sleeping_server(&mut self) -> Outcome {
        let (tx, requests) = request_stream();
        tx.send(StreamingOutputCallRequest {
            payload: Some(zeros(SLEEPING_SERVER_REQUEST_SIZE)),
            ..StreamingOutputCallRequest::default()
        })
        .await
        .expect("the request stream is open");
        let mut request = Request::new(requests);
        request.set_timeout(SLEEPING_SERVER_DEADLINE);
        let result = match self.client().full_duplex_call(request).await {
            Ok(response) => collect(response.into_inner()).await,
            Err(status) => Err(status),
        };
        // Keep the request stream open (no half-close) until the call is over: the server must be left waiting.
        drop(tx);
        // tonic enforces the deadline itself too, and reports its own expiry as CANCELLED with the message of its
        // TimeoutExpired error (tonic 0.14.9 status.rs), not as DEADLINE_EXCEEDED. Which comes first, that or the
        // server's DEADLINE_EXCEEDED, is a race; exactly tonic's own expiry counts as the deadline passing.
        let tonic_expiry = tonic::TimeoutExpired(()).to_string();
        let result = result.map_err(|status| {
            if status.code() == Code::Cancelled && status.message() == tonic_expiry {
                Status::deadline_exceeded(format!("{tonic_expiry} (tonic's own deadline)"))
            } else {
                status
            }
        });
        expect_status("FullDuplexCall", result, Code::DeadlineExceeded, None)
    }

    /// UnaryCall: a server that checks compression refuses an uncompressed request it was told is compressed, then
    /// accepts a compressed one and an uncompressed one.
    pub async fn client_compressed_unary(&mut self) -> Outcome {
        let request = |expect: bool| SimpleRequest {
            expect_compressed: Some(BoolValue { value: expect }),
            ..large_request()
        };
        let probe = self.client().unary_call(request(true)).await;
        expect_status(
            "UnaryCall probe (uncompressed, expect_compressed)",
            probe,
            Code::InvalidArgument,
            None,
        )?;
        let compressed = self
            .client()
            .send_compressed(Gzip)
            .unary_call(request(true))
            .await;
        let response = ok("UnaryCall compressed", compressed)?.into_inner();
        check_payload(
            "UnaryCall compressed response",
            response.payload.as_ref(),
            LARGE_RESPONSE_SIZE,
        )?;
        let response = ok(
            "UnaryCall uncompressed",
            self.client().unary_call(request(false)).await,
        )?
        .into_inner();
        check_payload(
            "UnaryCall uncompressed response",
            response.payload.as_ref(),
            LARGE_RESPONSE_SIZE,
        )
    }

    /// UnaryCall: the response comes compressed when asked, uncompressed when not (the message's compressed flag).
    pub async fn server_compressed_unary(&mut self) -> Outcome {
        for compressed in [true, false] {
            let request = SimpleRequest {
                response_compressed: Some(BoolValue { value: compressed }),
                ..large_request()
            };
            self.channel.flags().clear();
            let what = format!("UnaryCall (response_compressed={compressed})");
            let result = self
                .client()
                .accept_compressed(Gzip)
                .unary_call(request)
                .await;
            let response: SimpleResponse = ok(&what, result)?.into_inner();
            check(
                &format!("{what} compressed flag"),
                self.channel.flags().next(),
                Some(compressed),
            )?;
            check_payload(&what, response.payload.as_ref(), LARGE_RESPONSE_SIZE)?;
        }
        Ok(())
    }

    /// StreamingInputCall: a compressed message then an uncompressed one on one call. The probe runs; the call
    /// itself needs per-message compression, which tonic does not have (a call compresses every message or none).
    pub async fn client_compressed_streaming(&mut self) -> Outcome {
        let probe = StreamingInputCallRequest {
            payload: Some(zeros(COMPRESSED_STREAM_REQUEST_SIZES[0])),
            expect_compressed: Some(BoolValue { value: true }),
        };
        let result = self
            .client()
            .streaming_input_call(futures::stream::iter([probe]))
            .await;
        expect_status(
            "StreamingInputCall probe (uncompressed, expect_compressed)",
            result,
            Code::InvalidArgument,
            None,
        )?;
        Err(Mismatch::new(
            "no per-message compression switch in tonic (a call compresses every message or none)",
            format!(
                "a compressed message then an uncompressed one, aggregated size {COMPRESSED_STREAM_TOTAL}"
            ),
        ))
    }

    /// StreamingOutputCall: the first response compressed, the second not (the messages' compressed flags).
    pub async fn server_compressed_streaming(&mut self) -> Outcome {
        let request = StreamingOutputCallRequest {
            response_parameters: COMPRESSED_STREAM_RESPONSE_SIZES
                .iter()
                .zip([true, false])
                .map(|(&size, compressed)| ResponseParameters {
                    size,
                    compressed: Some(BoolValue { value: compressed }),
                    ..ResponseParameters::default()
                })
                .collect(),
            ..StreamingOutputCallRequest::default()
        };
        self.channel.flags().clear();
        let result = self
            .client()
            .accept_compressed(Gzip)
            .streaming_output_call(request)
            .await;
        check_stream_sizes(result, &COMPRESSED_STREAM_RESPONSE_SIZES).await?;
        let flags: Vec<bool> = std::iter::from_fn(|| self.channel.flags().next()).collect();
        check("compressed flags", flags, vec![true, false])
    }
}

/// Like [`collect`], leaving the stream to read its trailers from.
async fn collect_from(
    stream: &mut Streaming<StreamingOutputCallResponse>,
) -> Result<Vec<StreamingOutputCallResponse>, Status> {
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    Ok(messages)
}
