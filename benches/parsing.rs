//! Per-message parse cost of the dissectors, on real messages from the project's captures:
//! link/IP/TCP decode, NBSS + SMB2 header, compound split, NEGOTIATE with contexts,
//! SESSION_SETUP with SPNEGO + NTLMSSP, TREE_CONNECT, CREATE, the TRANSFORM header and SMB1
//! NEGOTIATE. Throughput is one element (message) per iteration, so the report gives ns per
//! message and messages/s; each bench name ends with the message's size in bytes.
//!
//! Every input is checked once, outside the timed loop, to parse to what the bench claims, so
//! no bench can end up timing an error path.

mod common;

use std::hint::black_box;

use common::{Msg, frames, messages, pick};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use smbscope::flow::{Transport, decode};
use smbscope::smb::negotiate::{Dialect, NegotiateRequest, NegotiateResponse};
use smbscope::smb::session_setup::{SessionSetupRequest, SessionSetupResponse};
use smbscope::smb::{
    Command, Header, NtStatus, create, nbss, ntlmssp, smb1, split_compound, spnego, transform, tree,
};

/// One bench over `input` (one message per iteration), named `name/<bytes>B`.
fn bench<M: criterion::measurement::Measurement, R>(
    g: &mut BenchmarkGroup<'_, M>,
    name: &str,
    input: &[u8],
    f: impl Fn(&[u8]) -> R,
) {
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("{name}/{}B", input.len()), |b| {
        b.iter(|| f(black_box(input)))
    });
}

/// Link/IP/TCP decode of the Ethernet frame that carries the SMB2 NEGOTIATE request.
fn link(c: &mut Criterion) {
    let all = frames("smb311-default.pcap");
    let frame = all
        .iter()
        .find(|f| match decode(f.linktype, &f.data) {
            Ok(p) => matches!(p.transport, Transport::Tcp(ref t)
                if t.payload.get(4..).and_then(|m| Header::parse(m).ok())
                    .is_some_and(|h| h.command() == Command::NEGOTIATE && !h.is_response())),
            Err(_) => false,
        })
        .expect("an Ethernet frame with the NEGOTIATE request");
    let linktype = frame.linktype;
    assert_eq!(linktype, smbscope::flow::dlt::EN10MB);

    let mut g = c.benchmark_group("parse");
    bench(
        &mut g,
        "link_ip_tcp_ethernet",
        &frame.data,
        |d| match decode(linktype, d) {
            Ok(p) => match p.transport {
                Transport::Tcp(t) => t.payload.len() + usize::from(t.dst_port),
                _ => 0,
            },
            Err(_) => 0,
        },
    );
    g.finish();
}

/// The SMB2 messages: NBSS + header, compound split and the command parsers.
fn smb2(c: &mut Criterion) {
    let msgs = messages("smb311-default.pcap");
    let neg_req = pick(&msgs, "NEGOTIATE request", |m| {
        m.is(Command::NEGOTIATE, false)
    });
    let neg_rsp = pick(&msgs, "NEGOTIATE response", |m| {
        m.is(Command::NEGOTIATE, true)
    });
    // The second SESSION_SETUP request carries the NTLMSSP AUTHENTICATE; the first response
    // (MORE_PROCESSING_REQUIRED) the CHALLENGE.
    let auth = pick(&msgs, "SESSION_SETUP request with AUTHENTICATE", |m| {
        m.is(Command::SESSION_SETUP, false) && ntlm_of_request(m).is_some_and(|t| t == 3)
    });
    let chal = pick(&msgs, "SESSION_SETUP response with CHALLENGE", |m| {
        m.is(Command::SESSION_SETUP, true) && m.status() == NtStatus::MORE_PROCESSING_REQUIRED
    });
    let tcon_req = pick(&msgs, "TREE_CONNECT request", |m| {
        m.is(Command::TREE_CONNECT, false)
    });
    let tcon_rsp = pick(&msgs, "TREE_CONNECT response", |m| {
        m.is(Command::TREE_CONNECT, true) && m.status() == NtStatus::SUCCESS
    });
    let create_req = pick(&msgs, "CREATE request", |m| m.is(Command::CREATE, false));
    let create_rsp = pick(&msgs, "CREATE response", |m| {
        m.is(Command::CREATE, true) && m.status() == NtStatus::SUCCESS
    });

    // Sanity checks on the inputs, once.
    let h = Header::parse(&neg_req.bytes).unwrap();
    let r = NegotiateRequest::parse(&h).expect("NEGOTIATE request parses");
    assert!(r.offers(Dialect::SMB3_1_1) && !r.contexts.is_empty());
    let h = Header::parse(&neg_rsp.bytes).unwrap();
    let r = NegotiateResponse::parse(&h).expect("NEGOTIATE response parses");
    assert!(r.dialect == Dialect::SMB3_1_1 && !r.contexts.is_empty());
    assert!(!r.security_buffer.is_empty());
    assert_eq!(parse_auth(&auth.bytes), Some(ntlmssp::NtlmKind::NtlmV2));
    assert!(parse_challenge(&chal.bytes).is_some());
    let h = Header::parse(&tcon_req.bytes).unwrap();
    assert!(tree::TreeConnectRequest::parse(&h).is_ok());
    let h = Header::parse(&tcon_rsp.bytes).unwrap();
    assert!(tree::TreeConnectResponse::parse(&h).is_ok());
    let h = Header::parse(&create_req.bytes).unwrap();
    assert!(create::CreateRequest::parse(&h).is_ok());
    let h = Header::parse(&create_rsp.bytes).unwrap();
    assert!(create::CreateResponse::parse(&h).is_ok());

    // NBSS + SMB2 header over the NEGOTIATE request as it travels in TCP.
    let mut framed = (neg_req.bytes.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&neg_req.bytes);
    assert_eq!(nbss_smb2(&framed), Some(Command::NEGOTIATE));

    // None of the captures holds a compounded message (smbclient sends none there), so the
    // compound is three real requests of the capture chained as a client would: CREATE,
    // then the next two requests, each padded to 8 bytes, NextCommand set.
    let compound = chain(&msgs, create_req);
    assert_eq!(split_compound(&compound).filter(Result::is_ok).count(), 3);

    let mut g = c.benchmark_group("parse");
    bench(&mut g, "nbss_smb2_header", &framed, nbss_smb2);
    bench(&mut g, "compound_split_3", &compound, |m| {
        split_compound(m)
            .flatten()
            .map(|h| h.body().len() + usize::from(h.command().0))
            .sum::<usize>()
    });
    bench(&mut g, "negotiate_request", &neg_req.bytes, |m| {
        let h = Header::parse(m).ok()?;
        NegotiateRequest::parse(&h).ok().map(|r| r.contexts.len())
    });
    bench(&mut g, "negotiate_response", &neg_rsp.bytes, |m| {
        let h = Header::parse(m).ok()?;
        NegotiateResponse::parse(&h).ok().map(|r| r.contexts.len())
    });
    bench(
        &mut g,
        "session_setup_request_spnego_ntlmssp_authenticate",
        &auth.bytes,
        parse_auth,
    );
    bench(
        &mut g,
        "session_setup_response_spnego_ntlmssp_challenge",
        &chal.bytes,
        parse_challenge,
    );
    bench(&mut g, "tree_connect_request", &tcon_req.bytes, |m| {
        let h = Header::parse(m).ok()?;
        tree::TreeConnectRequest::parse(&h)
            .ok()
            .map(|t| t.path.len())
    });
    bench(&mut g, "tree_connect_response", &tcon_rsp.bytes, |m| {
        let h = Header::parse(m).ok()?;
        tree::TreeConnectResponse::parse(&h)
            .ok()
            .map(|t| t.share_kind())
    });
    bench(&mut g, "create_request", &create_req.bytes, |m| {
        let h = Header::parse(m).ok()?;
        create::CreateRequest::parse(&h).ok().map(|r| r.name.len())
    });
    bench(&mut g, "create_response", &create_rsp.bytes, |m| {
        let h = Header::parse(m).ok()?;
        create::CreateResponse::parse(&h).ok().map(|r| r.file_id)
    });
    g.finish();
}

/// NBSS header, then the SMB2 header of the message it frames.
fn nbss_smb2(stream: &[u8]) -> Option<Command> {
    let n = nbss::Header::parse(stream).ok()?;
    let msg = stream.get(nbss::HEADER_LEN..n.total_len())?;
    Header::parse(msg).ok().map(|h| h.command())
}

/// The NTLMSSP message type in a SESSION_SETUP request's security buffer, if any.
fn ntlm_of_request(m: &Msg) -> Option<u32> {
    let h = m.smb2()?;
    let blob = SessionSetupRequest::parse(&h).ok()?.security_buffer;
    let token = spnego::parse(blob).ok()?.auth_token()?;
    match ntlmssp::parse(token).ok()? {
        ntlmssp::Message::Negotiate(_) => Some(1),
        ntlmssp::Message::Challenge(_) => Some(2),
        ntlmssp::Message::Authenticate(_) => Some(3),
        _ => None,
    }
}

/// SMB2 header, SESSION_SETUP request, SPNEGO, NTLMSSP AUTHENTICATE: what the engine does to
/// learn the user and the NTLM variant.
fn parse_auth(m: &[u8]) -> Option<ntlmssp::NtlmKind> {
    let h = Header::parse(m).ok()?;
    let blob = SessionSetupRequest::parse(&h).ok()?.security_buffer;
    let token = spnego::parse(blob).ok()?.auth_token()?;
    match ntlmssp::parse(token).ok()? {
        ntlmssp::Message::Authenticate(a) => Some(a.kind()),
        _ => None,
    }
}

/// SMB2 header, SESSION_SETUP response, SPNEGO, NTLMSSP CHALLENGE (with its AV pairs).
fn parse_challenge(m: &[u8]) -> Option<[u8; 8]> {
    let h = Header::parse(m).ok()?;
    let blob = SessionSetupResponse::parse(&h).ok()?.security_buffer;
    let token = spnego::parse(blob).ok()?.auth_token()?;
    match ntlmssp::parse(token).ok()? {
        ntlmssp::Message::Challenge(c) => Some(c.server_challenge),
        _ => None,
    }
}

/// `first` and the two requests that follow it in the capture, chained into one compound.
fn chain(msgs: &[Msg], first: &Msg) -> Vec<u8> {
    let at = msgs
        .iter()
        .position(|m| std::ptr::eq(m, first))
        .expect("first is in msgs");
    let parts: Vec<&Msg> = std::iter::once(first)
        .chain(
            msgs[at + 1..]
                .iter()
                .filter(|m| m.dir == first.dir && m.smb2().is_some())
                .take(2),
        )
        .collect();
    assert_eq!(parts.len(), 3, "three requests to chain");
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let start = out.len();
        out.extend_from_slice(&p.bytes);
        if i + 1 < parts.len() {
            out.resize(start + p.bytes.len().next_multiple_of(8), 0);
            let next = (out.len() - start) as u32;
            out[start + 20..start + 24].copy_from_slice(&next.to_le_bytes());
        }
    }
    out
}

/// The TRANSFORM header of a real encrypted message (SMB 3.1.1, AES-128-GCM).
fn transform_header(c: &mut Criterion) {
    let msgs = messages("smb311-enc-aes128gcm.pcap");
    let enc = pick(&msgs, "encrypted message", |m| {
        transform::TransformHeader::parse(&m.bytes).is_ok()
    });
    let t = transform::TransformHeader::parse(&enc.bytes).unwrap();
    assert!(!t.ciphertext().is_empty() && t.session_id() != 0);
    assert_eq!(t.original_message_size() as usize, t.ciphertext().len());

    let mut g = c.benchmark_group("parse");
    bench(&mut g, "transform_header", &enc.bytes, |m| {
        let t = transform::TransformHeader::parse(m).ok()?;
        Some((
            t.session_id(),
            t.aad().len(),
            t.ciphertext().len(),
            t.aead_nonce(smbscope::smb::negotiate::Cipher::AES_128_GCM)
                .map(<[u8]>::len),
        ))
    });
    g.finish();
}

/// SMB1 NEGOTIATE request (dialect strings) and response (NT LM 0.12).
fn smb1_negotiate(c: &mut Criterion) {
    let msgs = messages("smb1-nt1.pcap");
    let is_neg = |m: &Msg, reply: bool| {
        smb1::Header::parse(&m.bytes)
            .is_ok_and(|h| h.command() == smb1::Command::NEGOTIATE && h.is_reply() == reply)
    };
    let req = pick(&msgs, "SMB1 NEGOTIATE request", |m| is_neg(m, false));
    let rsp = pick(&msgs, "SMB1 NEGOTIATE response", |m| is_neg(m, true));
    let dialects = smb1_req(&req.bytes).expect("SMB1 NEGOTIATE request parses");
    assert!(dialects > 1, "a real dialect list");
    assert_eq!(smb1_rsp(&rsp.bytes), Some(17), "NT LM 0.12 response");

    let mut g = c.benchmark_group("parse");
    bench(&mut g, "smb1_negotiate_request", &req.bytes, smb1_req);
    bench(&mut g, "smb1_negotiate_response", &rsp.bytes, smb1_rsp);
    g.finish();
}

fn smb1_req(m: &[u8]) -> Option<usize> {
    let h = smb1::Header::parse(m).ok()?;
    let block = h.first_block();
    smb1::NegotiateRequest::parse(&h, &block)
        .ok()
        .map(|r| r.dialects.len())
}

fn smb1_rsp(m: &[u8]) -> Option<u8> {
    let h = smb1::Header::parse(m).ok()?;
    let block = h.first_block();
    smb1::NegotiateResponse::parse(&h, &block)
        .ok()
        .map(|r| r.word_count)
}

criterion_group!(benches, link, smb2, transform_header, smb1_negotiate);
criterion_main!(benches);
