//! SMB dissectors: sans-IO parsers over borrowed byte slices.
//!
//! SMB2/3 ([MS-SMB2]) lives in the modules below. Every parser takes the bytes of one message
//! (starting at the `0xFE 'S' 'M' 'B'` / `0xFD` / `0xFC` protocol id, without the 4-byte
//! transport header) and either returns a view / a decoded struct or a
//! [`ParseError`](crate::wire::ParseError); none of them panics on network bytes.
//!
//! The usual flow for one transport frame:
//!
//! 1. [`transform::TransformHeader::parse`] if it starts with `0xFD` (encrypted), or
//!    [`transform::CompressionHeader::parse`] if it starts with `0xFC` (compressed);
//! 2. [`header::split_compound`] to walk the compounded messages (each one a [`header::Header`]);
//! 3. per command, the body parser: [`negotiate`], [`session_setup`], [`tree`], [`create`], [`rw`].
//!
//! [MS-SMB2]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-smb2/

pub mod compress;
pub mod create;
pub mod dcerpc;
pub mod header;
pub mod krb;
pub mod krb_logon;
pub mod negotiate;
pub mod rw;
pub mod session_setup;
pub mod status;
pub mod transform;
pub mod tree;
pub mod util;

// SMB1 ([MS-CIFS]/[MS-SMB]), NetBIOS session service (RFC 1002), NTLMSSP ([MS-NLMP]) and
// SPNEGO/Kerberos (RFC 4178, RFC 4120) for the security blobs.
mod der;
pub mod nbss;
pub mod ntlmssp;
pub mod smb1;
pub mod spnego;

pub use header::{Command, Compound, Header, SMB2_MAGIC, split_compound};
pub use status::NtStatus;

/// A fuzz entry point: `data` is a TCP byte stream (cut in two where its first byte says) framed
/// by NBSS; every message and control packet goes through every SMB1, SMB2, transform and
/// compression-header parser. It must never panic, whatever `data` holds.
pub fn fuzz_message(data: &[u8]) {
    struct Sink;
    impl crate::flow::framing::Events for Sink {
        fn message(&mut self, msg: &[u8], _extent: crate::flow::Extent) {
            fuzz_parse_all(msg);
        }
        fn control(&mut self, kind: u8, body: &[u8]) {
            let _ = nbss::SessionRequest::parse(body);
            let _ = nbss::parse_negative_response(body);
            let _ = nbss::parse_retarget_response(body);
            let _ = kind;
        }
        fn anomaly(&mut self, _: crate::flow::AnomalyKind, _: &'static str, _: u64) {}
    }
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let mut framer = crate::flow::framing::Framer::default();
    if data.len() % 2 == 1 {
        framer.start_midstream();
    }
    framer.feed(&data[..split], 1 << 16, &mut Sink);
    framer.feed(&data[split..], 1 << 16, &mut Sink);
    framer.finish(&mut Sink);
    // The whole input as one message too, so the parsers see it without NBSS framing.
    fuzz_parse_all(data);
}

/// Every message parser over one message (after the NBSS header).
fn fuzz_parse_all(msg: &[u8]) {
    use self::rw::{
        ErrorResponse, IoctlRequest, IoctlResponse, ReadRequest, ReadResponse,
        ValidateNegotiateInfoRequest, ValidateNegotiateInfoResponse, WriteRequest, WriteResponse,
        is_error_response,
    };
    let _ = nbss::Header::parse(msg);
    let _ = transform::TransformHeader::parse(msg).map(|t| {
        (
            t.aad().len(),
            t.ciphertext().len(),
            t.session_id(),
            t.original_message_size(),
        )
    });
    if let Ok(c) = transform::CompressionHeader::parse(msg) {
        let _ = c.original_size();
    }
    let _ = ValidateNegotiateInfoRequest::parse(msg);
    let _ = ValidateNegotiateInfoResponse::parse(msg);
    if let Ok(h) = smb1::Header::parse(msg) {
        let _ = (h.status(), h.dos_error(), h.is_unicode(), h.signature());
        for block in smb1::andx_chain(&h).map_while(Result::ok) {
            let _ = block.bytes_offset();
            let _ = smb1::NegotiateRequest::parse(&h, &block);
            let _ = smb1::NegotiateResponse::parse(&h, &block).map(|r| r.extended_security());
            let _ = smb1::SessionSetupRequest::parse(&h, &block).map(|r| r.ntlm_kind());
            let _ = smb1::SessionSetupResponse::parse(&h, &block).map(|r| r.is_guest());
            let _ = smb1::TreeConnectRequest::parse(&h, &block);
            let _ = smb1::TreeConnectResponse::parse(&h, &block);
            let _ = smb1::NtCreateRequest::parse(&h, &block);
            let _ = smb1::CreateDirectoryRequest::parse(&h, &block);
        }
    }
    for h in split_compound(msg).flatten() {
        let _ = (h.body(), h.async_id(), h.tree_id(), h.signature());
        let _ = is_error_response(&h);
        let _ = negotiate::NegotiateRequest::parse(&h);
        let _ = negotiate::NegotiateResponse::parse(&h);
        let _ = session_setup::SessionSetupRequest::parse(&h);
        let _ = session_setup::SessionSetupResponse::parse(&h);
        let _ = tree::TreeConnectRequest::parse(&h);
        let _ = tree::TreeConnectResponse::parse(&h);
        let _ = create::CreateRequest::parse(&h);
        let _ = create::CreateResponse::parse(&h);
        let _ = ReadRequest::parse(&h).map(|r| r.length);
        let _ = ReadResponse::parse(&h).map(|r| r.data(&h).len());
        let _ = WriteRequest::parse(&h).map(|w| dcerpc::parse(w.data(&h)));
        let _ = WriteResponse::parse(&h);
        let _ = IoctlRequest::parse(&h).map(|i| i.input(&h).map(dcerpc::parse));
        let _ = IoctlResponse::parse(&h).map(|i| i.output(&h).map(<[u8]>::len));
        let _ = ErrorResponse::parse(&h);
    }
}

/// Helpers shared by the unit tests of the SMB2 parsers: hex decoding, a message builder and the
/// truncated-prefix check.
#[cfg(test)]
pub(crate) mod testutil {
    use super::header::Header;

    /// Decodes a hex string (whitespace ignored). Test vectors only.
    pub fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        assert!(digits.len().is_multiple_of(2), "odd hex length");
        digits
            .chunks(2)
            .map(|p| {
                let s = std::str::from_utf8(p).expect("hex is ASCII");
                u8::from_str_radix(s, 16).expect("valid hex digit")
            })
            .collect()
    }

    /// Decodes a `tcp.payload` hex dump that starts with the 4-byte Direct TCP / NBSS header and
    /// returns the SMB2 message after it, checking the NBSS length.
    pub fn nbss_payload(s: &str) -> Vec<u8> {
        let v = hex(s);
        let len = u32::from_be_bytes([0, v[1], v[2], v[3]]) as usize;
        assert_eq!(
            v.len(),
            len + 4,
            "test vector must hold one whole NBSS frame"
        );
        v[4..].to_vec()
    }

    /// Builds one SMB2 message: a 64-byte sync header with the given fields, then `body`.
    pub fn build(command: u16, flags: u32, status: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(64 + body.len());
        m.extend_from_slice(&[0xFE, b'S', b'M', b'B']);
        m.extend_from_slice(&64u16.to_le_bytes()); // StructureSize
        m.extend_from_slice(&1u16.to_le_bytes()); // CreditCharge
        m.extend_from_slice(&status.to_le_bytes());
        m.extend_from_slice(&command.to_le_bytes());
        m.extend_from_slice(&1u16.to_le_bytes()); // Credits
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes()); // NextCommand
        m.extend_from_slice(&7u64.to_le_bytes()); // MessageId
        m.extend_from_slice(&0u32.to_le_bytes()); // Reserved
        m.extend_from_slice(&5u32.to_le_bytes()); // TreeId
        m.extend_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes()); // SessionId
        m.extend_from_slice(&[0u8; 16]); // Signature
        m.extend_from_slice(body);
        m
    }

    /// Runs `parse` on every prefix of `msg` (through [`Header::parse`]). Prefixes shorter than
    /// `min_ok` must fail; the whole message must parse. Nothing may panic. Returns the number
    /// of prefixes that parsed (useful when the spec allows a shorter valid parse).
    pub fn check_prefixes(
        msg: &[u8],
        min_ok: usize,
        parses: impl Fn(&Header<'_>) -> bool,
    ) -> usize {
        let mut ok = 0;
        for n in 0..msg.len() {
            let r = Header::parse(&msg[..n]).is_ok_and(|h| parses(&h));
            if n < min_ok {
                assert!(!r, "prefix of {n} bytes should not parse");
            }
            ok += usize::from(r);
        }
        assert!(
            Header::parse(msg).is_ok_and(|h| parses(&h)),
            "whole message must parse"
        );
        ok
    }

    /// Runs `parse` on every prefix of `msg` (raw bytes); prefixes shorter than `min_ok` must
    /// fail, the whole buffer must parse, nothing may panic.
    pub fn check_raw_prefixes(msg: &[u8], min_ok: usize, parses: impl Fn(&[u8]) -> bool) {
        for n in 0..msg.len() {
            if n < min_ok {
                assert!(!parses(&msg[..n]), "prefix of {n} bytes should not parse");
            } else {
                parses(&msg[..n]);
            }
        }
        assert!(parses(msg), "whole buffer must parse");
    }
}

#[cfg(test)]
mod tests {
    use super::create::{CreateRequest, CreateResponse};
    use super::negotiate::{NegotiateRequest, NegotiateResponse};
    use super::rw::{
        ErrorResponse, IoctlRequest, IoctlResponse, ReadRequest, ReadResponse,
        ValidateNegotiateInfoRequest, ValidateNegotiateInfoResponse, WriteRequest, WriteResponse,
        is_error_response,
    };
    use super::session_setup::{SessionSetupRequest, SessionSetupResponse};
    use super::transform::{CompressionHeader, TransformHeader};
    use super::tree::{TreeConnectRequest, TreeConnectResponse};
    use super::*;

    /// Runs every parser over `buf`; only checks that nothing panics.
    fn run_all(buf: &[u8]) {
        let _ = TransformHeader::parse(buf).map(|t| (t.aad(), t.ciphertext(), t.session_id()));
        let _ = CompressionHeader::parse(buf);
        let _ = ValidateNegotiateInfoRequest::parse(buf);
        let _ = ValidateNegotiateInfoResponse::parse(buf);
        for h in split_compound(buf).flatten() {
            let _ = (h.body(), h.async_id(), h.tree_id(), h.signature());
            let _ = is_error_response(&h);
            let _ = NegotiateRequest::parse(&h);
            let _ = NegotiateResponse::parse(&h);
            let _ = SessionSetupRequest::parse(&h);
            let _ = SessionSetupResponse::parse(&h);
            let _ = TreeConnectRequest::parse(&h);
            let _ = TreeConnectResponse::parse(&h);
            let _ = CreateRequest::parse(&h);
            let _ = CreateResponse::parse(&h);
            let _ = ReadRequest::parse(&h).map(|r| r.length);
            let _ = ReadResponse::parse(&h).map(|r| r.data(&h).len());
            let _ = WriteRequest::parse(&h).map(|w| w.data(&h).len());
            let _ = WriteResponse::parse(&h);
            let _ = IoctlRequest::parse(&h).map(|i| i.input(&h));
            let _ = IoctlResponse::parse(&h).map(|i| i.output(&h));
            let _ = ErrorResponse::parse(&h);
        }
    }

    /// The fuzz entry point, once, on a real NBSS-framed SMB2 NEGOTIATE request.
    #[test]
    fn fuzz_message_runs_on_a_real_message() {
        let mut stream = vec![0u8, 0, 0, 0];
        let msg = testutil::build(0, 0, 0, &[36, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        stream[1..4].copy_from_slice(&(msg.len() as u32).to_be_bytes()[1..]);
        stream.extend_from_slice(&msg);
        super::fuzz_message(&stream);
    }

    /// A small deterministic fuzz: random bodies behind valid headers, each body given one of
    /// the StructureSizes the parsers expect, with random offsets and lengths.
    #[test]
    fn random_messages_never_panic() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let sizes = [36u16, 65, 25, 9, 16, 57, 89, 49, 17];
        for i in 0..20_000u32 {
            let len = (next() % 200) as usize;
            let mut body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if body.len() >= 2 {
                let s = sizes[i as usize % sizes.len()];
                body[..2].copy_from_slice(&s.to_le_bytes());
            }
            // Small offsets so that some point inside the message.
            for b in body.iter_mut().skip(2).step_by(7) {
                *b %= 0x90;
            }
            let cmd = (next() % 0x14) as u16;
            let flags = (next() % 16) as u32;
            let mut m = testutil::build(cmd, flags, next() as u32, &body);
            if i % 5 == 0 {
                // Dialect 3.1.1 so context parsing runs on random bytes.
                if m.len() > 70 {
                    m[68..70].copy_from_slice(&0x0311u16.to_le_bytes());
                }
                if m.len() > 102 {
                    m[100..102].copy_from_slice(&0x0311u16.to_le_bytes());
                }
            }
            if i % 7 == 0 {
                m[20..24].copy_from_slice(&((next() % 256) as u32).to_le_bytes());
            }
            run_all(&m);
            let mut t = m.clone();
            t[0] = [0xFD, 0xFC][i as usize % 2];
            run_all(&t);
            if i % 50 == 0 {
                for n in 0..m.len() {
                    run_all(&m[..n]);
                }
            }
        }
    }
}
