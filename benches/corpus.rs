//! Benchmark corpus generator: builds large pcaps from the project's own captures.
//!
//! A corpus is a run of *rounds*. Each round holds one copy of every selected capture, with
//! addresses rewritten per copy so that every flow is distinct: the endpoint on a server port
//! (TCP 445/139, UDP 443) gets a per-capture server address in 172.16.0.0/12 (the same in every
//! round: a network has few servers and many clients), the other endpoint a fresh client address
//! in 10.0.0.0/8. The copies of one round are rebased to start together and interleaved by
//! timestamp (concurrency); the next round starts one second after the previous one ends.
//! IPv4 header checksums and TCP/UDP checksums are recomputed (loopback captures carry
//! offloaded, wrong checksums).
//!
//! SMB session ids and keys, and TLS client randoms, are left as they are, so the concatenation
//! of the inputs' key files (written next to the corpus as `OUT.keys` and `OUT.keylog`) stays
//! valid for every copy. QUIC connection IDs cannot be rewritten (they are authenticated), so a
//! corpus with QUIC captures spaces its rounds 5 s apart: each QUIC capture ends with a
//! CONNECTION_CLOSE, after which smbscope drains the connection for 3 s; a copy's Initial
//! arriving sooner would land on the previous copy's connection.
//!
//! ```text
//! cargo run --release --example bench-corpus -- --mix cleartext --size 1G --out target/bench-corpus/cleartext.pcap
//! cargo run --release --example bench-corpus -- --idle-conns 100000 --out target/bench-corpus/idle-100k.pcap
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, ValueEnum};
use etherparse::{Ethernet2Header, Ipv4Header, TcpHeader, UdpHeader};
use smbscope::capture::OfflineCapture;

const LINKTYPE_ETHERNET: i32 = 1;
const LINKTYPE_RAW: i32 = 101;
const LINKTYPE_IPV4: i32 = 228;
const TCP_SERVER_PORTS: [u16; 2] = [445, 139];
const UDP_SERVER_PORTS: [u16; 1] = [443];
/// Fixed start of every corpus (2024-01-01T00:00:00Z), so reruns give identical files.
const BASE_SECS: u64 = 1_704_067_200;
/// Round gap used when QUIC captures are in the mix: more than smbscope's 3 s drain after a
/// CONNECTION_CLOSE (plus its 1 s expiry granularity).
const QUIC_ROUND_GAP_SECS: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mix {
    /// Unencrypted captures: signed, unsigned, guest, anonymous, SMB1 (+ *-signed-bulk,
    /// *-unsigned-bulk when present).
    Cleartext,
    /// Every capture, encrypted ones and captures/quic/*.pcap included.
    Mixed,
    /// The bulk encrypted and bulk signed captures (the small ones when those are absent).
    Crypto,
}

#[derive(Parser, Debug)]
#[command(about = "Generate a large benchmark pcap from the project's own captures")]
struct Args {
    /// Which captures go into each round.
    #[arg(long, value_enum, default_value = "cleartext")]
    mix: Mix,
    /// Target size: rounds are added until the file reaches it (suffixes K, M, G: powers of 1024).
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    size: u64,
    /// Output pcap. OUT.keys and OUT.keylog are written next to it.
    #[arg(long)]
    out: PathBuf,
    /// The project's captures directory.
    #[arg(long, default_value = "captures")]
    captures: PathBuf,
    /// Seconds between the end of a round and the start of the next (default: 1, or 5 when
    /// QUIC captures are in the mix).
    #[arg(long)]
    round_gap: Option<u64>,
    /// Instead of rounds: N connections that each do the TCP handshake and the SMB exchanges
    /// up to the first TREE_CONNECT response, then stay idle (no FIN).
    #[arg(long)]
    idle_conns: Option<u32>,
    /// Capture the idle connections are cut from.
    #[arg(long, default_value = "captures/smb311-default.pcap")]
    idle_source: PathBuf,
    /// Seconds of capture time over which the idle connections start.
    #[arg(long, default_value_t = 5)]
    idle_spread: u64,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix {c:?} (use K, M or G)")),
            };
            (&s[..i], mult)
        }
        _ => (s, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a size: {s:?} (e.g. 200M, 1G)"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("size must be positive: {s:?}"));
    }
    Ok((n * mult as f64) as u64)
}

enum Transport {
    Tcp(TcpHeader),
    Udp(UdpHeader),
}

/// One parsed input packet, ready to be re-emitted with new addresses.
struct Template {
    /// Nanoseconds since the start of its capture.
    rel_ns: u64,
    link: Vec<u8>,
    ip: Ipv4Header,
    transport: Transport,
    payload: Vec<u8>,
    /// Bytes after the IP packet (Ethernet padding).
    trailer: Vec<u8>,
    /// orig_len - captured length in the input.
    cut: u32,
    src_is_server: bool,
    /// Index of the original client address among this capture's client addresses.
    client_slot: u32,
}

struct Input {
    name: String,
    packets: Vec<Template>,
    /// Distinct client addresses (a QUIC migration has two).
    clients: u32,
    bytes: u64,
}

/// Reads a capture and parses every IPv4 TCP/UDP packet into a template.
fn load(path: &Path, linktype: &mut Option<i32>) -> Result<Input> {
    let mut cap = OfflineCapture::open(path).map_err(|e| anyhow!("{e}"))?;
    let mut packets = Vec::new();
    let mut client_ips: Vec<[u8; 4]> = Vec::new();
    let mut first_ts = None;
    let mut skipped = 0u64;
    let mut bytes = 0u64;
    while let Some(f) = cap.next_frame().map_err(|e| anyhow!("{e}"))? {
        match linktype {
            None => *linktype = Some(f.linktype),
            Some(l) if *l != f.linktype => bail!(
                "{}: link type {} differs from the other inputs' {l}",
                path.display(),
                f.linktype
            ),
            Some(_) => {}
        }
        let first = *first_ts.get_or_insert(f.ts.as_nanos());
        let rel_ns = f.ts.as_nanos().saturating_sub(first);
        let cut = f.orig_len.saturating_sub(f.data.len() as u32);
        match parse(f.linktype, f.data) {
            Some((link, ip, transport, payload, trailer)) => {
                let (sport, dport, servers): (u16, u16, &[u16]) = match &transport {
                    Transport::Tcp(t) => (t.source_port, t.destination_port, &TCP_SERVER_PORTS),
                    Transport::Udp(u) => (u.source_port, u.destination_port, &UDP_SERVER_PORTS),
                };
                let src_is_server = servers.contains(&sport) && !servers.contains(&dport);
                let client_ip = if src_is_server {
                    ip.destination
                } else {
                    ip.source
                };
                let client_slot = match client_ips.iter().position(|c| *c == client_ip) {
                    Some(i) => i as u32,
                    None => {
                        client_ips.push(client_ip);
                        (client_ips.len() - 1) as u32
                    }
                };
                bytes += 16 + f.data.len() as u64;
                packets.push(Template {
                    rel_ns,
                    link: link.to_vec(),
                    ip,
                    transport,
                    payload: payload.to_vec(),
                    trailer: trailer.to_vec(),
                    cut,
                    src_is_server,
                    client_slot,
                });
            }
            None => skipped += 1,
        }
    }
    if skipped > 0 {
        eprintln!(
            "bench-corpus: {}: skipped {skipped} frames that are not IPv4 TCP/UDP",
            path.display()
        );
    }
    if packets.is_empty() {
        bail!("{}: no IPv4 TCP/UDP packets", path.display());
    }
    Ok(Input {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        packets,
        clients: client_ips.len().max(1) as u32,
        bytes,
    })
}

type Parsed<'a> = (&'a [u8], Ipv4Header, Transport, &'a [u8], &'a [u8]);

/// Splits a frame into link header, IPv4 header, TCP/UDP header, payload and trailer.
fn parse(linktype: i32, data: &[u8]) -> Option<Parsed<'_>> {
    let link_len = match linktype {
        LINKTYPE_ETHERNET => {
            let (eth, _) = Ethernet2Header::from_slice(data).ok()?;
            if eth.ether_type.0 != 0x0800 {
                return None;
            }
            Ethernet2Header::LEN
        }
        LINKTYPE_RAW | LINKTYPE_IPV4 => 0,
        _ => return None,
    };
    let (link, rest) = data.split_at(link_len);
    let (ip, _) = Ipv4Header::from_slice(rest).ok()?;
    if ip.is_fragmenting_payload() {
        return None;
    }
    let ip_len = usize::from(ip.total_len).min(rest.len());
    let body = rest.get(ip.header_len()..ip_len)?;
    let trailer = &rest[ip_len..];
    match ip.protocol.0 {
        6 => {
            let (tcp, payload) = TcpHeader::from_slice(body).ok()?;
            Some((link, ip, Transport::Tcp(tcp), payload, trailer))
        }
        17 => {
            let (udp, _) = UdpHeader::from_slice(body).ok()?;
            let payload = body.get(UdpHeader::LEN..)?;
            Some((link, ip, Transport::Udp(udp), payload, trailer))
        }
        _ => None,
    }
}

/// Writes classic microsecond pcap.
struct PcapOut {
    w: BufWriter<File>,
    bytes: u64,
    frames: u64,
    buf: Vec<u8>,
}

impl PcapOut {
    fn create(path: &Path, linktype: i32) -> Result<PcapOut> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut hdr = Vec::with_capacity(24);
        hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        hdr.extend_from_slice(&2u16.to_le_bytes());
        hdr.extend_from_slice(&4u16.to_le_bytes());
        hdr.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        hdr.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        hdr.extend_from_slice(&262_144u32.to_le_bytes()); // snaplen
        hdr.extend_from_slice(&(linktype as u32).to_le_bytes());
        w.write_all(&hdr)?;
        Ok(PcapOut {
            w,
            bytes: 24,
            frames: 0,
            buf: Vec::with_capacity(70_000),
        })
    }

    /// Emits `t` at absolute time `ts_ns` with the given addresses.
    fn emit(&mut self, t: &Template, ts_ns: u64, server: [u8; 4], client: [u8; 4]) -> Result<()> {
        let mut ip = t.ip.clone();
        if t.src_is_server {
            ip.source = server;
            ip.destination = client;
        } else {
            ip.source = client;
            ip.destination = server;
        }
        ip.header_checksum = ip.calc_header_checksum();
        self.buf.clear();
        self.buf.extend_from_slice(&t.link);
        self.buf.extend_from_slice(&ip.to_bytes());
        match &t.transport {
            Transport::Tcp(tcp) => {
                let mut tcp = tcp.clone();
                tcp.checksum = tcp
                    .calc_checksum_ipv4(&ip, &t.payload)
                    .map_err(|e| anyhow!("TCP checksum: {e}"))?;
                self.buf.extend_from_slice(&tcp.to_bytes());
            }
            Transport::Udp(udp) => {
                let mut udp = udp.clone();
                udp.checksum = udp
                    .calc_checksum_ipv4(&ip, &t.payload)
                    .map_err(|e| anyhow!("UDP checksum: {e}"))?;
                self.buf.extend_from_slice(&udp.to_bytes());
            }
        }
        self.buf.extend_from_slice(&t.payload);
        self.buf.extend_from_slice(&t.trailer);
        let len = self.buf.len() as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((ts_ns / 1_000_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((ts_ns % 1_000_000_000 / 1_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.saturating_add(t.cut).to_le_bytes());
        self.w.write_all(&rec)?;
        self.w.write_all(&self.buf)?;
        self.bytes += 16 + u64::from(len);
        self.frames += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<(u64, u64)> {
        self.w.flush()?;
        Ok((self.bytes, self.frames))
    }
}

fn server_ip(capture: usize) -> [u8; 4] {
    let n = capture as u32 + 1;
    Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 16, 0, 0)) + n + n / 255).octets()
}

/// The `k`-th client address in 10.0.0.0/8, skipping x.x.x.0 and x.x.x.255.
fn client_ip(k: u64) -> [u8; 4] {
    let k = k % (65_536 * 254);
    let host = (k / 254) as u32;
    let last = (k % 254) as u32 + 1;
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + (host << 8) + last).octets()
}

struct Selected {
    pcap: PathBuf,
    keys: Option<PathBuf>,
    keylog: Option<PathBuf>,
}

fn sibling(pcap: &Path, ext: &str) -> Option<PathBuf> {
    let p = pcap.with_extension(ext);
    p.is_file().then_some(p)
}

fn pcaps_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    v.sort();
    Ok(v)
}

/// Whether a capture is SMB-encrypted: its expected.json says so, else its name does.
fn is_encrypted(pcap: &Path) -> bool {
    if let Some(exp) = sibling(pcap, "expected.json")
        && let Ok(text) = std::fs::read_to_string(&exp)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(b) = v.get("encrypted").and_then(|e| e.as_bool())
    {
        return b;
    }
    let name = stem(pcap);
    name.contains("-enc-") || name.ends_with("-enc") || name.contains("encrypt-required")
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn select(mix: Mix, dir: &Path) -> Result<Vec<Selected>> {
    let top: Vec<PathBuf> = pcaps_in(dir)?
        .into_iter()
        // mixed.pcap merges ten of the others.
        .filter(|p| stem(p) != "mixed")
        .collect();
    let chosen: Vec<PathBuf> = match mix {
        Mix::Cleartext => top
            .into_iter()
            .filter(|p| {
                let n = stem(p);
                !is_encrypted(p)
                    && (!n.ends_with("-bulk")
                        || n.ends_with("-unsigned-bulk")
                        || n.ends_with("-signed-bulk"))
            })
            .collect(),
        Mix::Mixed => {
            let mut v = top;
            let quic = dir.join("quic");
            if quic.is_dir() {
                v.extend(pcaps_in(&quic)?);
            }
            v
        }
        Mix::Crypto => {
            let bulk: Vec<PathBuf> = ["smb311-enc-bulk", "smb311-signed-bulk"]
                .iter()
                .map(|n| dir.join(format!("{n}.pcap")))
                .filter(|p| p.is_file())
                .collect();
            if bulk.len() == 2 {
                bulk
            } else {
                eprintln!(
                    "bench-corpus: warning: {}/smb311-enc-bulk.pcap and smb311-signed-bulk.pcap \
                     are not both present; using the small encrypted and signed captures instead",
                    dir.display()
                );
                top.into_iter()
                    .filter(|p| {
                        let n = stem(p);
                        !n.ends_with("-bulk")
                            && sibling(p, "keys").is_some()
                            && (is_encrypted(p) || n.contains("-sign") || n.contains("signed"))
                    })
                    .collect()
            }
        }
    };
    if chosen.is_empty() {
        bail!("no captures selected from {}", dir.display());
    }
    Ok(chosen
        .into_iter()
        .map(|p| Selected {
            keys: sibling(&p, "keys"),
            keylog: sibling(&p, "keylog"),
            pcap: p,
        })
        .collect())
}

/// Concatenates `files` into `out` (an empty file when there are none), mode 0600.
fn concat(out: &Path, files: &[&PathBuf]) -> Result<()> {
    let mut text = String::new();
    for f in files {
        let t =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        text.push_str(&t);
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    // Key material: private, as smbscope asks.
    std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot chmod {}", out.display()))
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1u64 << 20) as f64
}

fn rounds(args: &Args) -> Result<()> {
    let selected = select(args.mix, &args.captures)?;
    let mut linktype = None;
    let mut inputs = Vec::new();
    for s in &selected {
        inputs.push(load(&s.pcap, &mut linktype)?);
    }
    let linktype = linktype.unwrap_or(LINKTYPE_ETHERNET);
    let has_quic = inputs.iter().any(|i| {
        i.packets
            .iter()
            .any(|p| matches!(p.transport, Transport::Udp(_)))
    });
    let gap_s = args
        .round_gap
        .unwrap_or(if has_quic { QUIC_ROUND_GAP_SECS } else { 1 });
    let round_bytes: u64 = inputs.iter().map(|i| i.bytes).sum();
    eprintln!(
        "bench-corpus: {} captures ({:.2} MiB a round): {}",
        inputs.len(),
        mib(round_bytes),
        inputs
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    if has_quic {
        eprintln!(
            "bench-corpus: QUIC in the mix: rounds are {gap_s} s apart (connection IDs repeat in every round)"
        );
    }

    // The interleaving is the same in every round: sort once. Capture c starts c*0.5 ms in.
    let mut order: Vec<(u64, u32, u32)> = Vec::new();
    let mut client_base = Vec::with_capacity(inputs.len());
    let mut clients_per_round = 0u64;
    for (c, inp) in inputs.iter().enumerate() {
        client_base.push(clients_per_round);
        clients_per_round += u64::from(inp.clients);
        let start = c as u64 * 500_000;
        for (i, p) in inp.packets.iter().enumerate() {
            order.push((start + p.rel_ns, c as u32, i as u32));
        }
    }
    order.sort_unstable();
    let round_len = order.last().map(|o| o.0).unwrap_or(0);

    let mut out = PcapOut::create(&args.out, linktype)?;
    let mut round = 0u64;
    let mut start_ns = BASE_SECS * 1_000_000_000;
    let mut next_report = 0u64;
    while out.bytes < args.size {
        let servers: Vec<[u8; 4]> = (0..inputs.len()).map(server_ip).collect();
        for &(rel, c, i) in &order {
            let inp = &inputs[c as usize];
            let t = &inp.packets[i as usize];
            let client = client_ip(
                round * clients_per_round + client_base[c as usize] + u64::from(t.client_slot),
            );
            out.emit(t, start_ns + rel, servers[c as usize], client)?;
        }
        round += 1;
        start_ns += round_len + gap_s * 1_000_000_000;
        if out.bytes >= next_report {
            eprintln!(
                "bench-corpus: {:.0} / {:.0} MiB, {round} rounds",
                mib(out.bytes),
                mib(args.size)
            );
            next_report = out.bytes + args.size / 10;
        }
    }
    let (bytes, frames) = out.finish()?;
    let keys: Vec<&PathBuf> = selected.iter().filter_map(|s| s.keys.as_ref()).collect();
    let keylogs: Vec<&PathBuf> = selected.iter().filter_map(|s| s.keylog.as_ref()).collect();
    concat(&with_suffix(&args.out, ".keys"), &keys)?;
    concat(&with_suffix(&args.out, ".keylog"), &keylogs)?;
    eprintln!(
        "bench-corpus: wrote {} ({:.1} MiB, {frames} frames, {round} rounds of {} captures, \
         {} key files, {} key logs)",
        args.out.display(),
        mib(bytes),
        inputs.len(),
        keys.len(),
        keylogs.len()
    );
    Ok(())
}

/// Whether a TCP payload from the server is an SMB2 TREE_CONNECT response.
fn is_tree_connect_response(t: &Template) -> bool {
    let p = &t.payload;
    t.src_is_server
        && matches!(t.transport, Transport::Tcp(_))
        && p.len() >= 4 + 64
        && p[4..8] == [0xfe, b'S', b'M', b'B']
        && u16::from_le_bytes([p[16], p[17]]) == 0x0003
        && p[20] & 1 == 1
}

fn idle(args: &Args, n: u32) -> Result<()> {
    let mut linktype = None;
    let inp = load(&args.idle_source, &mut linktype)?;
    let linktype = linktype.unwrap_or(LINKTYPE_ETHERNET);
    let end = inp
        .packets
        .iter()
        .position(is_tree_connect_response)
        .ok_or_else(|| {
            anyhow!(
                "{}: no SMB2 TREE_CONNECT response found",
                args.idle_source.display()
            )
        })?;
    let prefix = &inp.packets[..=end];
    if prefix.iter().any(|t| t.client_slot != 0) {
        bail!(
            "{}: more than one client address before the TREE_CONNECT response",
            args.idle_source.display()
        );
    }
    eprintln!(
        "bench-corpus: {n} idle connections, {} packets each (up to the first TREE_CONNECT response of {})",
        prefix.len(),
        inp.name
    );
    let spread_ns = args.idle_spread.max(1) * 1_000_000_000;
    let step = spread_ns / u64::from(n.max(1));
    let mut order: Vec<(u64, u32, u32)> = Vec::with_capacity(n as usize * prefix.len());
    for conn in 0..n {
        for (i, t) in prefix.iter().enumerate() {
            order.push((u64::from(conn) * step + t.rel_ns, conn, i as u32));
        }
    }
    order.sort_unstable();
    let mut out = PcapOut::create(&args.out, linktype)?;
    let base = BASE_SECS * 1_000_000_000;
    let server = server_ip(0);
    for &(rel, conn, i) in &order {
        out.emit(
            &prefix[i as usize],
            base + rel,
            server,
            client_ip(u64::from(conn)),
        )?;
    }
    let (bytes, frames) = out.finish()?;
    let keys: Vec<PathBuf> = sibling(&args.idle_source, "keys").into_iter().collect();
    concat(
        &with_suffix(&args.out, ".keys"),
        &keys.iter().collect::<Vec<_>>(),
    )?;
    concat(&with_suffix(&args.out, ".keylog"), &[])?;
    eprintln!(
        "bench-corpus: wrote {} ({:.1} MiB, {frames} frames, {n} connections)",
        args.out.display(),
        mib(bytes)
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let res = match args.idle_conns {
        Some(0) => Err(anyhow!("--idle-conns must be at least 1")),
        Some(n) => idle(&args, n),
        None => rounds(&args),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-corpus: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
