//! What tonic does not show a handler or a client: the compressed flag of each gRPC message on the wire.
//!
//! The interop spec asks the server to check that a request message arrived compressed (`expect_compressed`) and
//! the client to check that a response message was (or was not) compressed. tonic decompresses transparently and
//! keeps the flag to itself, so [`FlagsBody`] watches the HTTP/2 body go by and records the flag byte of every
//! length-prefixed message, in order, before tonic decodes it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http_body::{Body, Frame};
use tonic::codegen::Bytes;

/// The compressed flags of the messages seen so far, oldest first; shared by the body that records them and the
/// code that checks them.
#[derive(Debug, Clone, Default)]
pub struct MessageFlags(Arc<Mutex<VecDeque<bool>>>);

impl MessageFlags {
    /// The flag of the oldest message not yet taken (`None`: no message was seen).
    pub fn next(&self) -> Option<bool> {
        self.0.lock().expect("flags lock").pop_front()
    }

    /// Forgets every recorded flag.
    pub fn clear(&self) {
        self.0.lock().expect("flags lock").clear();
    }

    fn push(&self, compressed: bool) {
        self.0.lock().expect("flags lock").push_back(compressed);
    }
}

/// Where the parser is in the gRPC framing: `[flag:1][length:4][message:length]`, repeated.
#[derive(Debug)]
enum Framing {
    /// Reading a 5-byte prefix; holds the bytes read so far.
    Prefix(Vec<u8>),
    /// Skipping the rest of a message.
    Message(usize),
}

/// A body that records the compressed flag of each gRPC message passing through it.
pub struct FlagsBody<B> {
    inner: B,
    framing: Framing,
    flags: MessageFlags,
}

impl<B> FlagsBody<B> {
    /// Wraps `inner`, recording into `flags`.
    pub fn new(inner: B, flags: MessageFlags) -> Self {
        FlagsBody {
            inner,
            framing: Framing::Prefix(Vec::with_capacity(5)),
            flags,
        }
    }

    fn observe(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.framing {
                Framing::Prefix(prefix) => {
                    let take = (5 - prefix.len()).min(data.len());
                    prefix.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if prefix.len() == 5 {
                        self.flags.push(prefix[0] & 1 == 1);
                        let length =
                            u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]);
                        self.framing = Framing::Message(length as usize);
                    }
                }
                Framing::Message(left) => {
                    let take = (*left).min(data.len());
                    *left -= take;
                    data = &data[take..];
                }
            }
            if matches!(self.framing, Framing::Message(0)) {
                self.framing = Framing::Prefix(Vec::with_capacity(5));
            }
        }
    }
}

impl<B> Body for FlagsBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let data = data.clone();
            self.observe(&data);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(compressed: bool, body: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::from(compressed)];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn flags_are_read_across_any_split_of_the_stream() {
        let stream = [
            message(true, b"abc"),
            message(false, b""),
            message(true, &[7; 300]),
        ]
        .concat();
        for chunk in [1, 2, 4, 5, 6, 64, stream.len()] {
            let flags = MessageFlags::default();
            let mut body = FlagsBody::new(http_body_empty(), flags.clone());
            for piece in stream.chunks(chunk) {
                body.observe(piece);
            }
            let seen: Vec<_> = std::iter::from_fn(|| flags.next()).collect();
            assert_eq!(seen, [true, false, true], "chunks of {chunk}");
        }
    }

    fn http_body_empty() -> tonic::body::Body {
        tonic::body::Body::empty()
    }
}
