//! [`LiveCapture`]: frames from a network interface through libpcap.
//!
//! The capture is opened with a read timeout ([`LiveOptions::timeout_ms`]). Where libpcap
//! honours it, [`LiveCapture::next_frame`] returns `Ok(None)` that often when nothing arrives.
//! libpcap 1.10 on Linux does not: its read timeout only bounds how long packets wait in a
//! buffer, and a read on a quiet interface blocks until a packet comes. So a reader thread
//! that must stop is woken by another thread through a [`LiveWaker`] (`pcap_breakloop`,
//! which also interrupts the `poll`); no non-blocking mode is needed. Immediate mode (the default) hands each packet over as it
//! arrives instead of when a kernel buffer block fills, which is what a sensor that alerts
//! wants; the kernel buffer ([`LiveOptions::buffer_size`]) absorbs bursts.

use pcap::{Active, BreakLoop, Capture, Device, Precision};

use super::{CaptureError, Frame};
use crate::wire::Timestamp;

/// How to open a live capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// The interface name (`eth0`, `lo`, `any`).
    pub iface: String,
    /// Put the interface in promiscuous mode (needed on a SPAN/mirror port).
    pub promisc: bool,
    /// Most bytes kept of each packet.
    pub snaplen: i32,
    /// The kernel capture buffer, in bytes.
    pub buffer_size: i32,
    /// A BPF filter expression; empty captures everything.
    pub filter: String,
    /// Deliver packets as they arrive rather than when a buffer block fills.
    pub immediate: bool,
    /// Read timeout: [`LiveCapture::next_frame`] returns `Ok(None)` after this long without
    /// a packet.
    pub timeout_ms: i32,
}

impl LiveOptions {
    /// Default snapshot length: whole packets, GRO/TSO super-frames included.
    pub const DEFAULT_SNAPLEN: i32 = 262_144;
    /// Default kernel buffer: 16 MiB.
    pub const DEFAULT_BUFFER_SIZE: i32 = 16 << 20;
    /// Default read timeout.
    pub const DEFAULT_TIMEOUT_MS: i32 = 200;

    /// Options for `iface` with every default: not promiscuous, whole packets, 16 MiB buffer,
    /// no filter, immediate mode, 200 ms read timeout.
    pub fn new(iface: impl Into<String>) -> LiveOptions {
        LiveOptions {
            iface: iface.into(),
            promisc: false,
            snaplen: Self::DEFAULT_SNAPLEN,
            buffer_size: Self::DEFAULT_BUFFER_SIZE,
            filter: String::new(),
            immediate: true,
            timeout_ms: Self::DEFAULT_TIMEOUT_MS,
        }
    }
}

/// Packet counters as libpcap reports them (cumulative since the capture opened).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets that passed the filter.
    pub received: u64,
    /// Packets dropped because the kernel buffer was full (the reader was too slow).
    pub dropped: u64,
    /// Packets dropped by the interface or its driver (not supported everywhere: then 0).
    pub if_dropped: u64,
}

/// An open live capture. Read it with [`LiveCapture::next_frame`].
pub struct LiveCapture {
    iface: String,
    cap: Capture<Active>,
    linktype: i32,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("iface", &self.iface)
            .field("linktype", &self.linktype)
            .finish_non_exhaustive()
    }
}

/// Opens `opts.iface` for capture, applies the filter and returns the capture.
///
/// A missing interface is reported by name with the ones that exist; a permission error says
/// to run as root or with `CAP_NET_RAW` (and `CAP_NET_ADMIN` for promiscuous mode).
pub fn open_live(opts: &LiveOptions) -> Result<LiveCapture, CaptureError> {
    let err = |msg: String| CaptureError::Live {
        iface: opts.iface.clone(),
        msg,
    };
    if opts.iface.is_empty() {
        return Err(err("no interface name given".into()));
    }
    // Name a missing interface clearly (libpcap's own message is "No such device exists").
    // When the list itself cannot be read, opening will say what is wrong.
    if let Ok(devices) = Device::list() {
        let names: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
        if !names.contains(&opts.iface.as_str()) && opts.iface != "any" {
            return Err(CaptureError::NoSuchInterface {
                iface: opts.iface.clone(),
                available: names.join(", "),
            });
        }
    }
    let inactive = Capture::from_device(opts.iface.as_str())
        .map_err(|e| err(explain(&e.to_string(), opts.promisc)))?;
    let cap = inactive
        .promisc(opts.promisc)
        .snaplen(opts.snaplen)
        .buffer_size(opts.buffer_size)
        .immediate_mode(opts.immediate)
        .timeout(opts.timeout_ms.max(1))
        .precision(Precision::Nano)
        .open()
        .map_err(|e| err(explain(&e.to_string(), opts.promisc)))?;
    let linktype = cap.get_datalink().0;
    let mut live = LiveCapture {
        iface: opts.iface.clone(),
        cap,
        linktype,
    };
    if !opts.filter.trim().is_empty() {
        live.set_filter(&opts.filter)?;
    }
    Ok(live)
}

impl LiveCapture {
    /// The next frame; `Ok(None)` when the read timeout expired without one (where libpcap
    /// honours it) or a [`LiveWaker`] interrupted the wait.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        match self.cap.next_packet() {
            Ok(p) => {
                // With nanosecond precision, libpcap puts nanoseconds in `tv_usec`.
                // `time_t`/`suseconds_t` are narrower than i64 on some platforms.
                #[allow(clippy::useless_conversion)]
                let ts = Timestamp::from_secs_nanos(
                    i64::from(p.header.ts.tv_sec),
                    i64::from(p.header.ts.tv_usec),
                );
                Ok(Some(Frame {
                    ts,
                    linktype: self.linktype,
                    data: p.data,
                    orig_len: p.header.len,
                }))
            }
            // PCAP_ERROR_BREAK (-2) after pcap_breakloop; the crate reports it as NoMorePackets.
            Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(CaptureError::Live {
                iface: self.iface.clone(),
                msg: format!("read error: {e}"),
            }),
        }
    }

    /// A handle another thread uses to interrupt a blocked [`LiveCapture::next_frame`].
    pub fn waker(&mut self) -> LiveWaker {
        LiveWaker(self.cap.breakloop_handle())
    }

    /// Replaces the BPF filter (an empty expression captures everything).
    pub fn set_filter(&mut self, expr: &str) -> Result<(), CaptureError> {
        self.cap.filter(expr, true).map_err(|e| CaptureError::Live {
            iface: self.iface.clone(),
            msg: format!("bad capture filter '{expr}': {e}"),
        })
    }

    /// Packets received and dropped so far, as libpcap counts them.
    pub fn stats(&mut self) -> Result<LiveStats, CaptureError> {
        let s = self.cap.stats().map_err(|e| CaptureError::Live {
            iface: self.iface.clone(),
            msg: format!("cannot read capture statistics: {e}"),
        })?;
        Ok(LiveStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
    }

    /// The link-layer header type (DLT) of the interface.
    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }
}

/// Wakes a thread blocked in [`LiveCapture::next_frame`] (which then returns `Ok(None)`).
/// Waking a capture that is not reading makes its next read return `Ok(None)` at once;
/// waking one that was dropped does nothing.
pub struct LiveWaker(BreakLoop);

impl LiveWaker {
    pub fn wake(&self) {
        self.0.breakloop();
    }
}

impl std::fmt::Debug for LiveWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveWaker")
    }
}

/// The default BPF filter: SMB over TCP (445, 139 and each extra SMB port) and SMB over QUIC
/// (UDP 443 and each extra QUIC port). On Ethernet (`vlan_too`), the same ports inside one
/// 802.1Q/802.1ad tag are matched too, as a mirror port on a trunk delivers them.
pub fn default_filter(smb_ports: &[u16], quic_ports: &[u16], vlan_too: bool) -> String {
    let mut terms = vec![
        "tcp port 445".to_owned(),
        "tcp port 139".to_owned(),
        "udp port 443".to_owned(),
    ];
    for p in smb_ports {
        let t = format!("tcp port {p}");
        if !terms.contains(&t) {
            terms.push(t);
        }
    }
    for p in quic_ports {
        let t = format!("udp port {p}");
        if !terms.contains(&t) {
            terms.push(t);
        }
    }
    let base = terms.join(" or ");
    if vlan_too {
        // `vlan` shifts the offsets of what follows it, so it comes last.
        format!("{base} or (vlan and ({base}))")
    } else {
        base
    }
}

/// Adds a hint to libpcap's message when it is about permissions.
fn explain(msg: &str, promisc: bool) -> String {
    let lower = msg.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        let caps = if promisc {
            "CAP_NET_RAW and CAP_NET_ADMIN"
        } else {
            "CAP_NET_RAW"
        };
        format!(
            "{msg} (capturing needs root or {caps}: e.g. `setcap cap_net_raw,cap_net_admin=eip \
             /path/to/smbscope`, or systemd AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN)"
        )
    } else {
        msg.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filter_lists_every_port_once() {
        assert_eq!(
            default_filter(&[], &[], false),
            "tcp port 445 or tcp port 139 or udp port 443"
        );
        assert_eq!(
            default_filter(&[4445, 445], &[8443], false),
            "tcp port 445 or tcp port 139 or udp port 443 or tcp port 4445 or udp port 8443"
        );
        assert_eq!(
            default_filter(&[], &[], true),
            "tcp port 445 or tcp port 139 or udp port 443 or \
             (vlan and (tcp port 445 or tcp port 139 or udp port 443))"
        );
    }

    #[test]
    fn permission_errors_name_the_capability() {
        let m = explain("socket: Operation not permitted", false);
        assert!(m.contains("CAP_NET_RAW") && m.contains("root"), "{m}");
        assert!(explain("You don't have permission", true).contains("CAP_NET_ADMIN"));
        assert_eq!(
            explain("No such device exists", false),
            "No such device exists"
        );
    }

    #[test]
    fn waker_interrupts_a_read_on_a_quiet_interface() {
        let mut opts = LiveOptions::new("lo");
        // Matches nothing: the read would block for good without the waker.
        opts.filter = "less 1".into();
        let mut cap = match open_live(&opts) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("NOTICE: cannot capture on lo ({e}); waker test skipped");
                return;
            }
        };
        let waker = cap.waker();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            waker.wake();
        });
        let start = std::time::Instant::now();
        loop {
            match cap.next_frame() {
                Ok(None) if start.elapsed() >= std::time::Duration::from_millis(250) => break,
                Ok(None) => {}
                Ok(Some(_)) => panic!("the filter matches nothing"),
                Err(e) => panic!("{e}"),
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(5),
                "not woken"
            );
        }
        t.join().unwrap();
        assert_eq!(cap.stats().unwrap().dropped, 0);
    }

    #[test]
    fn missing_interface_is_named() {
        let e = open_live(&LiveOptions::new("smbscope-no-such-if0")).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("'smbscope-no-such-if0'"), "{s}");
    }
}
