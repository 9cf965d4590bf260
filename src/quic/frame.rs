//! QUIC frames (RFC 9000 §19, DATAGRAM from RFC 9221 §4): a borrowing iterator over the
//! plaintext payload of one packet.
//!
//! Every frame starts with its type as a variable-length integer; the rest of its layout depends
//! on the type. A frame of an unknown type has no length, so iteration ends after it.

use crate::quic::packet::{VARINT_MAX, varint};
use crate::wire::{Layer, ParseError, Reader, Result};

/// Frame type codes (RFC 9000 §19, table 3; RFC 9221 §4).
pub mod ty {
    pub const PADDING: u64 = 0x00;
    pub const PING: u64 = 0x01;
    pub const ACK: u64 = 0x02;
    pub const ACK_ECN: u64 = 0x03;
    pub const RESET_STREAM: u64 = 0x04;
    pub const STOP_SENDING: u64 = 0x05;
    pub const CRYPTO: u64 = 0x06;
    pub const NEW_TOKEN: u64 = 0x07;
    /// STREAM is 0x08..=0x0f; the low three bits are OFF (0x04), LEN (0x02) and FIN (0x01).
    pub const STREAM: u64 = 0x08;
    pub const STREAM_LAST: u64 = 0x0f;
    pub const MAX_DATA: u64 = 0x10;
    pub const MAX_STREAM_DATA: u64 = 0x11;
    pub const MAX_STREAMS_BIDI: u64 = 0x12;
    pub const MAX_STREAMS_UNI: u64 = 0x13;
    pub const DATA_BLOCKED: u64 = 0x14;
    pub const STREAM_DATA_BLOCKED: u64 = 0x15;
    pub const STREAMS_BLOCKED_BIDI: u64 = 0x16;
    pub const STREAMS_BLOCKED_UNI: u64 = 0x17;
    pub const NEW_CONNECTION_ID: u64 = 0x18;
    pub const RETIRE_CONNECTION_ID: u64 = 0x19;
    pub const PATH_CHALLENGE: u64 = 0x1a;
    pub const PATH_RESPONSE: u64 = 0x1b;
    /// CONNECTION_CLOSE signalling a QUIC (transport) error, with a frame type field.
    pub const CONNECTION_CLOSE: u64 = 0x1c;
    /// CONNECTION_CLOSE signalling an application error.
    pub const CONNECTION_CLOSE_APP: u64 = 0x1d;
    pub const HANDSHAKE_DONE: u64 = 0x1e;
    /// DATAGRAM without a length field (takes the rest of the packet).
    pub const DATAGRAM: u64 = 0x30;
    /// DATAGRAM with a length field.
    pub const DATAGRAM_LEN: u64 = 0x31;
}

/// STREAM type bits (RFC 9000 §19.8).
mod stream_bits {
    pub const OFF: u64 = 0x04;
    pub const LEN: u64 = 0x02;
    pub const FIN: u64 = 0x01;
}

/// TLS alerts travel as CRYPTO_ERROR codes 0x0100 + alert (RFC 9001 §4.8, RFC 9000 §20.1).
const CRYPTO_ERROR_BASE: u64 = 0x0100;
const CRYPTO_ERROR_LAST: u64 = 0x01ff;
/// Length of a stateless reset token (RFC 9000 §19.15).
const RESET_TOKEN_LEN: usize = 16;

/// One frame, borrowing the decrypted payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame<'a> {
    /// A run of PADDING bytes (one item for the whole run), with its length.
    Padding(usize),
    Ping,
    Ack {
        largest: u64,
        /// ACK Delay, in units of 2^ack_delay_exponent microseconds.
        delay: u64,
        first_range: u64,
        /// Number of (Gap, ACK Range Length) pairs in `ranges`.
        range_count: u64,
        /// The encoded (Gap, ACK Range Length) varint pairs, unparsed.
        ranges: &'a [u8],
        /// ACK_ECN only: the ECT(0), ECT(1) and ECN-CE counts.
        ecn: Option<[u64; 3]>,
    },
    Crypto {
        offset: u64,
        data: &'a [u8],
    },
    Stream {
        id: u64,
        offset: u64,
        data: &'a [u8],
        fin: bool,
    },
    ConnectionClose {
        error_code: u64,
        /// The frame type that caused a transport error; `None` for an application close.
        frame_type: Option<u64>,
        reason: &'a [u8],
        /// Type 0x1d: the error code is the application's.
        application: bool,
    },
    HandshakeDone,
    NewConnectionId {
        seq: u64,
        retire_prior_to: u64,
        cid: &'a [u8],
        reset_token: [u8; 16],
    },
    RetireConnectionId {
        seq: u64,
    },
    PathChallenge([u8; 8]),
    PathResponse([u8; 8]),
    NewToken(&'a [u8]),
    MaxData(u64),
    MaxStreamData {
        id: u64,
        max: u64,
    },
    MaxStreams {
        bidi: bool,
        max: u64,
    },
    DataBlocked(u64),
    StreamDataBlocked {
        id: u64,
        limit: u64,
    },
    StreamsBlocked {
        bidi: bool,
        limit: u64,
    },
    ResetStream {
        id: u64,
        error_code: u64,
        final_size: u64,
    },
    StopSending {
        id: u64,
        error_code: u64,
    },
    Datagram(&'a [u8]),
    /// A frame type this parser does not know. Its length is unknown, so it is the last item.
    Other(u64),
}

impl Frame<'_> {
    /// The TLS alert carried by a transport CONNECTION_CLOSE with a CRYPTO_ERROR code
    /// (0x0100 + alert, RFC 9001 §4.8); e.g. 49 = access_denied.
    pub fn tls_alert(&self) -> Option<u8> {
        match *self {
            Frame::ConnectionClose {
                error_code,
                application: false,
                ..
            } if (CRYPTO_ERROR_BASE..=CRYPTO_ERROR_LAST).contains(&error_code) => {
                u8::try_from(error_code - CRYPTO_ERROR_BASE).ok()
            }
            _ => None,
        }
    }

    /// Whether the frame makes the receiver send an ACK (RFC 9000 §13.2.1): anything but
    /// ACK, PADDING and CONNECTION_CLOSE.
    pub fn is_ack_eliciting(&self) -> bool {
        !matches!(
            self,
            Frame::Ack { .. } | Frame::Padding(_) | Frame::ConnectionClose { .. }
        )
    }
}

/// The frames of one decrypted packet payload, in order. Stops after an error (or after an
/// [`Frame::Other`]); error offsets are into `payload`.
pub fn frames(payload: &[u8]) -> Frames<'_> {
    Frames {
        r: Reader::new(payload, Layer::Quic),
        done: false,
    }
}

/// The iterator of [`frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    r: Reader<'a>,
    done: bool,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.r.is_empty() {
            return None;
        }
        let item = parse_frame(&mut self.r);
        if matches!(item, Err(_) | Ok(Frame::Other(_))) {
            self.done = true;
        }
        Some(item)
    }
}

fn parse_frame<'a>(r: &mut Reader<'a>) -> Result<Frame<'a>> {
    let t = varint(r)?;
    Ok(match t {
        ty::PADDING => {
            let n = 1 + r.rest().iter().take_while(|&&b| b == 0).count();
            r.skip(n - 1)?;
            Frame::Padding(n)
        }
        ty::PING => Frame::Ping,
        ty::ACK | ty::ACK_ECN => {
            let largest = varint(r)?;
            let delay = varint(r)?;
            let range_count = varint(r)?;
            let first_range = varint(r)?;
            let start = r.pos();
            // Each range is two varints of at least one byte, so the loop is bounded by the
            // payload's length whatever `range_count` claims.
            let mut i = 0;
            while i < range_count {
                varint(r)?;
                varint(r)?;
                i += 1;
            }
            let ranges = r.buffer().get(start..r.pos()).unwrap_or(&[]);
            let ecn = if t == ty::ACK_ECN {
                Some([varint(r)?, varint(r)?, varint(r)?])
            } else {
                None
            };
            Frame::Ack {
                largest,
                delay,
                first_range,
                range_count,
                ranges,
                ecn,
            }
        }
        ty::RESET_STREAM => Frame::ResetStream {
            id: varint(r)?,
            error_code: varint(r)?,
            final_size: varint(r)?,
        },
        ty::STOP_SENDING => Frame::StopSending {
            id: varint(r)?,
            error_code: varint(r)?,
        },
        ty::CRYPTO => {
            let offset = varint(r)?;
            let data = length_prefixed(r)?;
            check_end(r, offset, data.len())?;
            Frame::Crypto { offset, data }
        }
        ty::NEW_TOKEN => Frame::NewToken(length_prefixed(r)?),
        ty::STREAM..=ty::STREAM_LAST => {
            let id = varint(r)?;
            let offset = if t & stream_bits::OFF != 0 {
                varint(r)?
            } else {
                0
            };
            let data = if t & stream_bits::LEN != 0 {
                length_prefixed(r)?
            } else {
                let rest = r.rest();
                r.skip(rest.len())?;
                rest
            };
            check_end(r, offset, data.len())?;
            Frame::Stream {
                id,
                offset,
                data,
                fin: t & stream_bits::FIN != 0,
            }
        }
        ty::MAX_DATA => Frame::MaxData(varint(r)?),
        ty::MAX_STREAM_DATA => Frame::MaxStreamData {
            id: varint(r)?,
            max: varint(r)?,
        },
        ty::MAX_STREAMS_BIDI | ty::MAX_STREAMS_UNI => Frame::MaxStreams {
            bidi: t == ty::MAX_STREAMS_BIDI,
            max: varint(r)?,
        },
        ty::DATA_BLOCKED => Frame::DataBlocked(varint(r)?),
        ty::STREAM_DATA_BLOCKED => Frame::StreamDataBlocked {
            id: varint(r)?,
            limit: varint(r)?,
        },
        ty::STREAMS_BLOCKED_BIDI | ty::STREAMS_BLOCKED_UNI => Frame::StreamsBlocked {
            bidi: t == ty::STREAMS_BLOCKED_BIDI,
            limit: varint(r)?,
        },
        ty::NEW_CONNECTION_ID => {
            let seq = varint(r)?;
            let retire_prior_to = varint(r)?;
            let len_at = r.pos();
            let len = usize::from(r.u8()?);
            if !(1..=crate::quic::packet::MAX_CID_LEN).contains(&len) {
                return Err(ParseError::new(
                    Layer::Quic,
                    len_at,
                    "NEW_CONNECTION_ID length outside 1..=20",
                ));
            }
            let cid = r.bytes(len)?;
            let reset_token = r.array::<RESET_TOKEN_LEN>()?;
            Frame::NewConnectionId {
                seq,
                retire_prior_to,
                cid,
                reset_token,
            }
        }
        ty::RETIRE_CONNECTION_ID => Frame::RetireConnectionId { seq: varint(r)? },
        ty::PATH_CHALLENGE => Frame::PathChallenge(r.array()?),
        ty::PATH_RESPONSE => Frame::PathResponse(r.array()?),
        ty::CONNECTION_CLOSE | ty::CONNECTION_CLOSE_APP => {
            let application = t == ty::CONNECTION_CLOSE_APP;
            let error_code = varint(r)?;
            let frame_type = if application { None } else { Some(varint(r)?) };
            let reason = length_prefixed(r)?;
            Frame::ConnectionClose {
                error_code,
                frame_type,
                reason,
                application,
            }
        }
        ty::HANDSHAKE_DONE => Frame::HandshakeDone,
        ty::DATAGRAM => {
            let rest = r.rest();
            r.skip(rest.len())?;
            Frame::Datagram(rest)
        }
        ty::DATAGRAM_LEN => Frame::Datagram(length_prefixed(r)?),
        other => Frame::Other(other),
    })
}

/// A varint length, then that many bytes.
fn length_prefixed<'a>(r: &mut Reader<'a>) -> Result<&'a [u8]> {
    let len = varint(r)?;
    let len = usize::try_from(len).map_err(|_| r.err("frame length too large"))?;
    r.bytes(len)
}

/// Offset + length of CRYPTO and STREAM data cannot exceed 2^62 - 1 (RFC 9000 §19.6, §19.8).
fn check_end(r: &Reader<'_>, offset: u64, len: usize) -> Result<()> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= VARINT_MAX => Ok(()),
        _ => Err(r.err("stream offset beyond 2^62")),
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
