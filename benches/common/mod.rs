//! Shared by the micro-benchmarks: real frames and SMB messages from the project's captures.
//!
//! Messages are cut out of a capture by the crate's own flow table (TCP reassembly and NBSS
//! framing), so a message that spans several TCP segments comes out whole. Each bench then
//! picks the message it wants by command, and asserts it got it before timing anything.
#![allow(dead_code)] // each bench target uses a different part of this module

use std::path::PathBuf;

use smbscope::capture::OfflineCapture;
use smbscope::flow::{
    Anomaly, CloseReason, Direction, Extent, FlowKey, Limits, SmbPorts, StreamHandler, TcpTable,
    decode,
};
use smbscope::smb::{Command, Header, NtStatus};
use smbscope::wire::Timestamp;

/// `captures/<name>` in the source tree.
pub fn capture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

/// One frame of a capture, copied out.
pub struct OwnedFrame {
    pub ts: Timestamp,
    pub linktype: i32,
    pub data: Vec<u8>,
}

/// Every frame of `captures/<name>`. Panics when the capture cannot be read: a bench without
/// its input must not run.
pub fn frames(name: &str) -> Vec<OwnedFrame> {
    let path = capture_path(name);
    let mut cap =
        OfflineCapture::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut out = Vec::new();
    while let Some(f) = cap.next_frame().expect("read frame") {
        out.push(OwnedFrame {
            ts: f.ts,
            linktype: f.linktype,
            data: f.data.to_vec(),
        });
    }
    assert!(!out.is_empty(), "{name}: no frames");
    out
}

/// One NBSS session message (without the 4-byte NBSS header), in capture order.
pub struct Msg {
    pub dir: Direction,
    pub bytes: Vec<u8>,
}

impl Msg {
    /// The SMB2 header of the first message in it, if it is SMB2.
    pub fn smb2(&self) -> Option<Header<'_>> {
        Header::parse(&self.bytes).ok()
    }

    /// Whether it is an SMB2 `cmd` request (`response` false) or response (true).
    pub fn is(&self, cmd: Command, response: bool) -> bool {
        self.smb2()
            .is_some_and(|h| h.command() == cmd && h.is_response() == response)
    }

    /// The status of an SMB2 message (SUCCESS if not SMB2).
    pub fn status(&self) -> NtStatus {
        self.smb2().map_or(NtStatus::SUCCESS, |h| h.status())
    }
}

#[derive(Default)]
struct Collect {
    msgs: Vec<Msg>,
}

impl StreamHandler for Collect {
    type Conn = ();
    fn open(&mut self, _: &FlowKey, _: Timestamp, _: bool) {}
    fn message(
        &mut self,
        _: &mut (),
        _: &FlowKey,
        dir: Direction,
        _: Timestamp,
        msg: &[u8],
        extent: Extent,
    ) {
        assert_eq!(
            extent,
            Extent::Whole,
            "message truncated by the flow limits"
        );
        self.msgs.push(Msg {
            dir,
            bytes: msg.to_vec(),
        });
    }
    fn nbss_control(
        &mut self,
        _: &mut (),
        _: &FlowKey,
        _: Direction,
        _: Timestamp,
        _: u8,
        _: &[u8],
    ) {
    }
    fn anomaly(&mut self, _: Option<&mut ()>, _: &FlowKey, _: Timestamp, _: Anomaly) {}
    fn close(&mut self, _: (), _: &FlowKey, _: Timestamp, _: CloseReason) {}
}

/// Every NBSS session message of `captures/<name>`, both directions, in delivery order.
pub fn messages(name: &str) -> Vec<Msg> {
    let mut table = TcpTable::new(Collect::default(), Limits::default(), SmbPorts::default());
    let mut last = Timestamp(0);
    for f in frames(name) {
        if let Ok(pkt) = decode(f.linktype, &f.data) {
            table.handle_packet(f.ts, &pkt);
        }
        last = f.ts;
    }
    table.finish(last);
    let msgs = table.into_handler().msgs;
    assert!(!msgs.is_empty(), "{name}: no SMB messages");
    msgs
}

/// The first message of `msgs` that satisfies `pred`; panics with `what` when there is none.
pub fn pick<'a>(msgs: &'a [Msg], what: &str, pred: impl Fn(&Msg) -> bool) -> &'a Msg {
    msgs.iter()
        .find(|m| pred(m))
        .unwrap_or_else(|| panic!("no {what} in the capture"))
}
