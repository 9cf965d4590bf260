//! End to end through `capture` and `flow`: synthetic captures (always run) and third-party
//! captures from the shared corpus (skipped with a notice when it is absent). The corpus is
//! found through `SMBSCOPE_CORPUS`, else `../shared/corpus` next to the crate.
//!
//! Expected message counts were cross-checked with tshark 4.0.17:
//! `tshark -r FILE -Y nbss -T fields -e nbss.type`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use smbscope::capture::{CaptureError, OfflineCapture};
use smbscope::flow::{
    Anomaly, AnomalyKind, CloseReason, Direction, Extent, FlowKey, Limits, SmbPorts, StreamHandler,
    TcpTable, Transport, decode,
};
use smbscope::wire::Timestamp;

/// Counts what the flow layer delivers and checks every message looks like SMB.
#[derive(Default, Debug)]
struct Count {
    opened: u64,
    midstream: u64,
    closed: u64,
    messages: u64,
    by_proto: BTreeMap<u8, u64>,
    not_smb: u64,
    controls: Vec<u8>,
    anomalies: BTreeMap<&'static str, u64>,
    close_reasons: BTreeMap<&'static str, u64>,
}

impl StreamHandler for Count {
    type Conn = u64;
    fn open(&mut self, _key: &FlowKey, _ts: Timestamp, midstream: bool) -> u64 {
        self.opened += 1;
        self.midstream += u64::from(midstream);
        self.opened
    }
    fn message(
        &mut self,
        _c: &mut u64,
        _k: &FlowKey,
        _d: Direction,
        _t: Timestamp,
        msg: &[u8],
        _p: Extent,
    ) {
        self.messages += 1;
        match msg {
            [id @ (0xfc..=0xff), b'S', b'M', b'B', ..] => {
                *self.by_proto.entry(*id).or_default() += 1
            }
            _ => self.not_smb += 1,
        }
    }
    fn nbss_control(
        &mut self,
        _c: &mut u64,
        _k: &FlowKey,
        _d: Direction,
        _t: Timestamp,
        kind: u8,
        _b: &[u8],
    ) {
        self.controls.push(kind);
    }
    fn anomaly(&mut self, _c: Option<&mut u64>, _k: &FlowKey, _t: Timestamp, a: Anomaly) {
        *self.anomalies.entry(a.kind.as_str()).or_default() += 1;
    }
    fn close(&mut self, _c: u64, _k: &FlowKey, _t: Timestamp, reason: CloseReason) {
        self.closed += 1;
        *self.close_reasons.entry(reason.as_str()).or_default() += 1;
    }
}

#[derive(Debug, Default)]
struct Run {
    linktype: i32,
    frames: u64,
    malformed: u64,
    udp: u64,
    count: Count,
}

fn run(path: &Path) -> Run {
    let (run, err) = run_with(path, |_, _| 0);
    if let Some(e) = err {
        panic!("{e}");
    }
    run
}

/// Runs a capture; `cut(frame index, payload)` may drop that many bytes from the front of a
/// TCP payload (to simulate a capture starting mid-message). Reading stops at the first
/// capture error, which is returned.
fn run_with(path: &Path, mut cut: impl FnMut(u64, &[u8]) -> usize) -> (Run, Option<CaptureError>) {
    let mut cap = OfflineCapture::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut table = TcpTable::new(Count::default(), Limits::default(), SmbPorts::default());
    let mut out = Run {
        linktype: cap.linktype(),
        ..Run::default()
    };
    let mut last = Timestamp::default();
    let err = loop {
        let frame = match cap.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        out.frames += 1;
        last = frame.ts;
        match decode(frame.linktype, frame.data) {
            Ok(mut pkt) => {
                match &mut pkt.transport {
                    Transport::Udp { .. } => out.udp += 1,
                    Transport::Tcp(seg) => {
                        let n = cut(out.frames - 1, seg.payload).min(seg.payload.len());
                        seg.seq = seg.seq.wrapping_add(n as u32);
                        seg.payload = &seg.payload[n..];
                    }
                    _ => {}
                }
                table.handle_packet(frame.ts, &pkt);
            }
            Err(_) => out.malformed += 1,
        }
    };
    assert!(cap.bytes_read() <= cap.file_size().unwrap());
    table.finish(last);
    let stats = table.stats();
    out.count = table.into_handler();
    assert_eq!(
        out.count.opened, out.count.closed,
        "every flow closed exactly once"
    );
    assert_eq!(stats.messages, out.count.messages);
    assert_eq!(
        out.count.not_smb, 0,
        "every message starts with an SMB protocol id"
    );
    (out, err)
}

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("SMBSCOPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: corpus not found at {} (set SMBSCOPE_CORPUS)",
            dir.display()
        );
        None
    }
}

fn corpus_file(rel: &str) -> Option<PathBuf> {
    let p = corpus()?.join(rel);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("SKIP: {} missing", p.display());
        None
    }
}

#[test]
fn corpus_gzip_ethernet_smb3_encrypted() {
    let Some(p) = corpus_file("wireshark/smb300-aes-128-ccm.pcap.gz") else {
        return;
    };
    let r = run(&p);
    assert_eq!((r.linktype, r.frames), (1, 8));
    assert_eq!(r.count.messages, 8);
    assert!(
        r.count.by_proto.contains_key(&0xfd),
        "transform headers: {:?}",
        r.count.by_proto
    );
}

#[test]
fn corpus_linux_sll_compressed() {
    let Some(p) = corpus_file("wireshark/smb311-lz77-lz77huff-lznt1.pcap.gz") else {
        return;
    };
    let r = run(&p);
    assert_eq!(r.linktype, 113);
    assert_eq!(r.count.messages, 3);
    assert_eq!(
        r.count.by_proto.get(&0xfc),
        Some(&3),
        "{:?}",
        r.count.by_proto
    );
    assert_eq!(r.count.midstream, r.count.opened);
}

#[test]
fn corpus_vlan_smb1_split_across_segments() {
    let Some(p) = corpus_file("ndpi/smb_frags.pcap") else {
        return;
    };
    let r = run(&p);
    assert_eq!(r.count.messages, 4);
    assert_eq!(r.count.by_proto.get(&0xff), Some(&4));
    assert_eq!(r.count.opened, 1);
    assert!(r.count.anomalies.is_empty(), "{:?}", r.count.anomalies);
}

#[test]
fn corpus_port_139_midstream_smb1() {
    let Some(p) = corpus_file("zeek/dce-rpc_mapi.pcap") else {
        return;
    };
    let r = run(&p);
    // tshark: 156 NBSS session messages in three port-139 flows that start mid-stream.
    assert_eq!((r.count.opened, r.count.midstream), (3, 3));
    assert_eq!(r.count.messages, 156);
    assert_eq!(r.count.by_proto.get(&0xff), Some(&156));
    assert!(r.count.anomalies.is_empty(), "{:?}", r.count.anomalies);
}

#[test]
fn corpus_port_139_session_request() {
    let Some(p) = corpus_file("suricata-verify/smb2-ntlmssp-negotiateflags__input.pcap") else {
        return;
    };
    let r = run(&p);
    let mut ctl = r.count.controls.clone();
    ctl.sort_unstable();
    assert_eq!(ctl, [0x81, 0x81, 0x82, 0x82]);
    // tshark: 80 NBSS session messages in 8 flows (2 on port 139, 6 on 445).
    assert_eq!((r.count.opened, r.count.messages), (8, 80));
    assert!(r.count.anomalies.is_empty(), "{:?}", r.count.anomalies);
}

#[test]
fn corpus_midstream_resync() {
    let Some(p) = corpus_file("suricata-verify/smb3-02-midstream__input.pcap") else {
        return;
    };
    let r = run(&p);
    assert_eq!(r.count.midstream, 1);
    assert_eq!(r.count.messages, 46);
    // The capture starts at a message boundary; start it 50 bytes into the first message
    // instead: that message is lost and framing resyncs on the next one.
    let (r, err) = run_with(&p, |i, _| if i == 0 { 50 } else { 0 });
    assert!(err.is_none());
    assert_eq!(r.count.messages, 45);
    assert_eq!(r.count.anomalies.get("resync_skipped"), Some(&1));
}

#[test]
fn corpus_pcapng_ipv6_udp() {
    let Some(p) = corpus_file("wireshark/quic-with-secrets.pcapng") else {
        return;
    };
    let r = run(&p);
    // tshark: 83 frames over IPv6, 34 UDP (QUIC) and 49 TCP (HTTPS, not SMB).
    assert_eq!((r.linktype, r.frames, r.malformed, r.udp), (1, 83, 0, 34));
    assert_eq!(r.count.opened, 0);
}

#[test]
fn corpus_everything_decodes_without_panic() {
    let Some(dir) = corpus() else { return };
    let mut files = Vec::new();
    for sub in std::fs::read_dir(&dir).unwrap().flatten() {
        if sub.path().is_dir() && sub.file_name() != "expected" {
            for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if name.contains(".pcap") && !name.ends_with(".keylog") {
                    files.push(f.path());
                }
            }
        }
    }
    files.sort();
    let mut total = 0;
    for f in &files {
        let (r, err) = run_with(f, |_, _| 0);
        if let Some(e) = err {
            // libpcap cannot read pcapng files whose interfaces differ in snaplen/link type.
            eprintln!("{} after {} frames: {e}", f.display(), r.frames);
        }
        total += r.count.messages;
    }
    eprintln!("{} corpus captures, {total} SMB messages", files.len());
    assert!(total > 0);
}

// ---- synthetic captures: always run ----

/// A classic little-endian pcap (microsecond timestamps) of Ethernet frames.
fn pcap_file(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        v.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        v.extend_from_slice(&(i as u32 * 1000).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(f);
    }
    v
}

/// Ethernet/IPv4/TCP frame, client 10.0.0.1:40000 <-> server 10.0.0.2:445.
fn frame(to_server: bool, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (sip, dip, sp, dp) = if to_server {
        ([10, 0, 0, 1], [10, 0, 0, 2], 40000u16, 445u16)
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1], 445, 40000)
    };
    let mut v = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    v.extend_from_slice(&[0x45, 0]);
    v.extend_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    v.extend_from_slice(&sip);
    v.extend_from_slice(&dip);
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

fn smb2(len: usize, fill: u8) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    v.extend_from_slice(&[0xfe, b'S', b'M', b'B']);
    v.resize(4 + len, fill);
    v
}

/// 20 frames: handshake then requests and responses of 1000 bytes, FIN both ways.
fn conversation() -> Vec<Vec<u8>> {
    let mut f = vec![frame(true, 0, 0x02, &[]), frame(false, 0, 0x12, &[])];
    let (mut cs, mut ss) = (1u32, 1u32);
    for i in 0..8u8 {
        let req = smb2(996, i);
        f.push(frame(true, cs, 0x18, &req));
        cs += req.len() as u32;
        let resp = smb2(996, i | 0x80);
        f.push(frame(false, ss, 0x18, &resp));
        ss += resp.len() as u32;
    }
    f.push(frame(true, cs, 0x11, &[]));
    f.push(frame(false, ss, 0x11, &[]));
    f
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smbscope-flow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn synthetic_plain_and_gzip_agree() {
    let file = pcap_file(&conversation());
    let plain = temp("conv.pcap");
    std::fs::write(&plain, &file).unwrap();
    let gz = temp("conv.bin"); // no .gz extension: detected by magic bytes
    std::fs::write(&gz, gzip(&file)).unwrap();
    for p in [&plain, &gz] {
        let r = run(p);
        assert_eq!((r.frames, r.count.messages), (20, 16), "{}", p.display());
        assert_eq!(r.count.close_reasons.get("fin"), Some(&1));
        assert!(r.count.anomalies.is_empty());
    }
    // Progress: the plain estimate is exact for classic pcap.
    let mut cap = OfflineCapture::open(&plain).unwrap();
    let first = cap.next_frame().unwrap().unwrap();
    assert_eq!(first.ts, Timestamp::from_micros(1_700_000_000 * 1_000_000));
    assert_eq!(first.orig_len as usize, first.data.len());
    while cap.next_frame().unwrap().is_some() {}
    assert_eq!(cap.bytes_read(), file.len() as u64);
    assert!(cap.next_frame().unwrap().is_none(), "stays at end");
    let mut cap = OfflineCapture::open(&gz).unwrap();
    while cap.next_frame().unwrap().is_some() {}
    assert!(cap.bytes_read() > 0 && cap.bytes_read() <= cap.file_size().unwrap());
}

#[test]
fn truncated_capture_yields_frames_then_error() {
    let file = pcap_file(&conversation());
    let p = temp("cut.pcap");
    std::fs::write(&p, &file[..file.len() - 30]).unwrap(); // inside the last record
    let mut cap = OfflineCapture::open(&p).unwrap();
    let mut n = 0;
    let err = loop {
        match cap.next_frame() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("truncation not reported"),
            Err(e) => break e,
        }
    };
    assert_eq!(n, 19);
    assert!(
        matches!(
            err,
            CaptureError::Truncated {
                frames_read: 19,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("cut.pcap"));
    assert!(cap.next_frame().unwrap().is_none());
}

#[test]
fn truncated_gzip_yields_frames_then_gzip_error() {
    let file = pcap_file(&conversation());
    let gz = gzip(&file);
    let p = temp("cut.pcap.gz");
    std::fs::write(&p, &gz[..gz.len() * 2 / 3]).unwrap();
    let mut cap = OfflineCapture::open(&p).unwrap();
    let mut n = 0;
    let err = loop {
        match cap.next_frame() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("gzip truncation not reported"),
            Err(e) => break e,
        }
    };
    assert!(n > 0 && n < 20, "{n}");
    assert!(matches!(err, CaptureError::Gzip { .. }), "{err}");
    assert!(err.to_string().contains("cut.pcap.gz"), "{err}");
}

#[test]
fn dropping_a_gzip_capture_early_does_not_hang() {
    // Well over a pipe buffer of decompressed data, so the helper is blocked writing.
    let mut frames = Vec::new();
    for i in 0..3000u32 {
        frames.push(frame(true, i * 1400, 0x10, &[i as u8; 1400]));
    }
    let p = temp("big.pcap.gz");
    std::fs::write(&p, gzip(&pcap_file(&frames))).unwrap();
    let mut cap = OfflineCapture::open(&p).unwrap();
    assert!(cap.next_frame().unwrap().is_some());
    drop(cap); // joins the helper: returns only because it got EPIPE
}

#[test]
fn open_errors_name_the_file() {
    let missing = temp("does-not-exist.pcap");
    let err = OfflineCapture::open(&missing).unwrap_err();
    assert!(matches!(err, CaptureError::Open { .. }));
    assert!(err.to_string().contains("does-not-exist.pcap"));
    let junk = temp("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file at all").unwrap();
    assert!(matches!(
        OfflineCapture::open(&junk),
        Err(CaptureError::Open { .. })
    ));
    let junk_gz = temp("junk.gz");
    std::fs::write(&junk_gz, gzip(b"this is not a capture file at all")).unwrap();
    assert!(matches!(
        OfflineCapture::open(&junk_gz),
        Err(CaptureError::Open { .. })
    ));
    let empty = temp("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    assert!(OfflineCapture::open(&empty).is_err());
}

#[test]
fn anomaly_names_are_stable() {
    assert_eq!(AnomalyKind::Gap.as_str(), "gap");
    assert_eq!(AnomalyKind::FlowTableFull.as_str(), "flow_table_full");
}
