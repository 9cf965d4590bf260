//! Heap held per idle SMB connection, measured with a counting allocator: many copies of a real
//! connection's opening (handshake, NEGOTIATE, SESSION_SETUP, TREE_CONNECT from
//! `captures/smb311-default.pcap`, each with its own client address) are fed to the engine
//! and left open. The budget is 2 KB per idle tracked connection.
//!
//! One test only: the allocator counts every thread of this binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicIsize, Ordering};

use smbscope::capture::{Frame, OfflineCapture};
use smbscope::engine::{Config, Engine};
use smbscope::flow::Limits;
use smbscope::wire::Timestamp;

struct Counting;

/// Bytes held, counted as glibc malloc chunks (8-byte header, 16-byte granules, 32-byte
/// minimum), so that the figure tracks RSS rather than only what was asked for.
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn chunk(size: usize) -> isize {
    ((size + 8 + 15) & !15).max(32) as isize
}

// SAFETY: forwards to the system allocator and only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(chunk(l.size()), Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(chunk(l.size()), Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(chunk(new) - chunk(l.size()), Ordering::Relaxed);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const PER_CONN_BUDGET: isize = 2048;

/// The frames of the capture's first connection, up to the first CREATE request (the session
/// and tree are set up by then).
fn opening() -> Vec<(Timestamp, Vec<u8>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/smb311-default.pcap");
    let mut cap = OfflineCapture::open(&path).expect("capture opens");
    let mut frames = Vec::new();
    while let Some(f) = cap.next_frame().expect("capture reads") {
        assert_eq!(f.linktype, 1, "Ethernet");
        let d = f.data;
        let ihl = usize::from(d[14] & 0x0f) * 4;
        let tcp = 14 + ihl;
        let payload = tcp + usize::from(d[tcp + 12] >> 4) * 4;
        // NBSS header, then the SMB2 header: command at offset 12.
        if d.len() >= payload + 4 + 14 && d[payload + 4..payload + 8] == *b"\xfeSMB" {
            let cmd = u16::from_le_bytes([d[payload + 16], d[payload + 17]]);
            if cmd == 5 {
                break;
            }
        }
        frames.push((f.ts, d.to_vec()));
    }
    assert!(frames.len() >= 10, "the opening has its exchanges");
    frames
}

/// Rewrites the client side of a frame to 10.x.y.z:port for connection `i`.
fn as_connection(frame: &[u8], i: u32) -> Vec<u8> {
    let mut f = frame.to_vec();
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let tcp = 14 + ihl;
    let src_port = u16::from_be_bytes([f[tcp], f[tcp + 1]]);
    let (ip_at, port_at) = if src_port == 445 {
        (14 + 16, tcp + 2)
    } else {
        (14 + 12, tcp)
    };
    let ip = 0x0a00_0000 | (i >> 6);
    f[ip_at..ip_at + 4].copy_from_slice(&ip.to_be_bytes());
    let port = 1024 + (i & 63) as u16;
    f[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
    f
}

fn feed(engine: &mut Engine, opening: &[(Timestamp, Vec<u8>)], from: u32, to: u32) {
    for i in from..to {
        for (ts, data) in opening {
            let d = as_connection(data, i);
            engine.handle_frame(&Frame {
                ts: *ts,
                linktype: 1,
                data: &d,
                orig_len: d.len() as u32,
            });
        }
        while engine.poll_record().is_some() {}
    }
}

#[test]
fn an_idle_connection_costs_at_most_2_kb() {
    let opening = opening();
    let config = Config {
        limits: Limits {
            max_flows: 1_000_000,
            ..Limits::default()
        },
        ..Config::default()
    };
    let mut engine = Engine::new(config);
    // Warm up: the table's first growth steps and the engine's scratch buffers.
    feed(&mut engine, &opening, 0, 1000);
    let before = LIVE.load(Ordering::Relaxed);
    const N: u32 = 20_000;
    feed(&mut engine, &opening, 1000, 1000 + N);
    let after = LIVE.load(Ordering::Relaxed);
    let per_conn = (after - before) / N as isize;
    let snap = engine.snapshot();
    assert_eq!(snap.len(), 1000 + N as usize, "every connection is tracked");
    let (conn, sessions) = &snap[0];
    assert_eq!(conn.dialect.as_deref(), Some("3.1.1"));
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].trees.len(), 2, "{:?}", sessions[0].trees);
    eprintln!("heap per idle SMB 3.1.1 connection (a session, IPC$ and a share): {per_conn} bytes");
    assert!(
        per_conn <= PER_CONN_BUDGET,
        "{per_conn} bytes per idle connection (budget {PER_CONN_BUDGET})"
    );
}
