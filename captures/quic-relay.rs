//! SMB-over-QUIC relay for making real SMB-over-QUIC test captures (`captures/generate-quic.sh`).
//!
//! Samba 4.17 has no SMB over QUIC, so the captures are made through a pair of relays:
//!
//! ```text
//! smbclient --TCP--> quic-relay client --QUIC (ALPN "smb", UDP)--> quic-relay server --TCP--> smbd
//! ```
//!
//! Windows SMB over QUIC carries the same byte stream as Direct TCP/445 (a `0x00` byte and a
//! 24-bit big-endian length before every SMB2 message) on one client-initiated bidirectional
//! QUIC stream, in TLS 1.3 with ALPN `smb`. The relays copy that byte stream verbatim between the
//! TCP connection and the QUIC stream, so the UDP leg is genuine SMB-over-QUIC traffic.
//!
//! ```text
//! quic-relay server --listen 127.0.0.1:443 --forward 127.0.0.1:445 \
//!     --cert-name files.smbscope.test [--cert-ip] [--cert-out cert.pem] [--keylog FILE]
//! quic-relay client --listen 127.0.0.1:4450 --connect 127.0.0.1:443 \
//!     --server-name files.smbscope.test [--pin-cert cert.pem] [--keylog FILE] \
//!     [--migrate-after-ms N | --migrate-after-messages N] [--migrate-to 127.0.0.2:0] \
//!     [--cid-lifetime-ms N]
//! ```
//!
//! * QUIC v1, TLS 1.3 (rustls with the *ring* provider), ALPN `smb`; the QUIC fixed bit is not
//!   greased and UDP segmentation offload is off, so every datagram on the wire is an ordinary
//!   QUIC packet (or coalesced long-header packets).
//! * The server makes a fresh self-signed certificate (rcgen, ECDSA P-256) whose only SAN is the
//!   DNS name `--cert-name`, or with `--cert-ip` the IP address 127.0.0.1 (the `--cert-name` stays
//!   the subject CN). `--cert-out` writes it as PEM.
//! * The client trusts exactly the certificate in `--pin-cert` (byte for byte) and still checks
//!   the TLS 1.3 CertificateVerify signature; without `--pin-cert` it accepts any certificate.
//!   `--server-name` is sent as SNI; an IP address there means no SNI (RFC 6066).
//! * `--keylog FILE` appends the TLS secrets in NSS key-log format (`CLIENT_HANDSHAKE_TRAFFIC_SECRET
//!   <client random> <secret>`, ...), which Wireshark/tshark use to decrypt the QUIC packets.
//!   Without it, `SSLKEYLOGFILE` is honoured (rustls' `KeyLogFile`).
//! * Connection migration: `--migrate-after-ms N` (N ms after the handshake) or
//!   `--migrate-after-messages N` (once the client has sent N SMB messages, before the next one
//!   is forwarded) rebinds the client endpoint to a new UDP socket bound to `--migrate-to`
//!   (`Endpoint::rebind`); quinn then switches to a fresh connection ID and the server validates
//!   the new path. The SMB session goes on over the new address.
//! * Connection-ID rotation: `--cid-lifetime-ms N` gives the client's connection IDs a lifetime
//!   (quinn's `RandomConnectionIdGenerator::set_lifetime`). When one expires, the client issues
//!   new IDs with NEW_CONNECTION_ID frames whose Retire Prior To field retires the old ones, so
//!   the server must send to an ID it learnt only inside an encrypted frame.
//!
//! The client serves exactly one TCP connection and exits when it ends; the server runs until
//! it is killed. Progress lines go to stderr (`listening on ...`, `connected ...`, `migrated ...`),
//! which the capture script waits for.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Endpoint, EndpointConfig, TokioRuntime, TransportConfig, VarInt};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The ALPN protocol id of SMB over QUIC.
const ALPN_SMB: &[u8] = b"smb";

#[derive(Parser)]
#[command(
    name = "quic-relay",
    about = "SMB over QUIC relay (TCP <-> QUIC stream, ALPN \"smb\")"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// QUIC server: relays each bidirectional stream to a TCP SMB server.
    Server(ServerArgs),
    /// QUIC client: relays one TCP connection over one bidirectional stream.
    Client(ClientArgs),
}

#[derive(Args)]
struct ServerArgs {
    /// UDP address to listen on.
    #[arg(long, default_value = "127.0.0.1:443")]
    listen: SocketAddr,
    /// TCP address of the SMB server each stream is relayed to.
    #[arg(long, default_value = "127.0.0.1:445")]
    forward: SocketAddr,
    /// DNS name in the certificate (SAN, and the subject CN).
    #[arg(long, default_value = "files.smbscope.test")]
    cert_name: String,
    /// Name the IP address 127.0.0.1 in the certificate's SAN instead of the DNS name.
    #[arg(long)]
    cert_ip: bool,
    /// Days the certificate is valid from today (UTC midnight); it starts yesterday.
    #[arg(long, default_value_t = 365)]
    cert_days: i64,
    /// Write the certificate (PEM) here.
    #[arg(long)]
    cert_out: Option<PathBuf>,
    /// Append the TLS secrets in NSS key-log format.
    #[arg(long)]
    keylog: Option<PathBuf>,
}

#[derive(Args)]
struct ClientArgs {
    /// TCP address to accept the (single) SMB client connection on.
    #[arg(long, default_value = "127.0.0.1:4450")]
    listen: SocketAddr,
    /// UDP address of the relay server.
    #[arg(long, default_value = "127.0.0.1:443")]
    connect: SocketAddr,
    /// Local UDP address to start from.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Server name: the SNI, unless it is an IP address (then no SNI is sent).
    #[arg(long, default_value = "files.smbscope.test")]
    server_name: String,
    /// Trust only this certificate (PEM, as written by `server --cert-out`).
    #[arg(long)]
    pin_cert: Option<PathBuf>,
    /// Append the TLS secrets in NSS key-log format.
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// Migrate to `--migrate-to` this many milliseconds after the handshake.
    #[arg(long, conflicts_with = "migrate_after_messages")]
    migrate_after_ms: Option<u64>,
    /// Migrate to `--migrate-to` once the client has sent this many SMB messages.
    #[arg(long)]
    migrate_after_messages: Option<u64>,
    /// New local UDP address for the migration (port 0: any free port).
    #[arg(long, default_value = "127.0.0.2:0")]
    migrate_to: SocketAddr,
    /// Retire each connection ID the client issued after this many milliseconds: the client
    /// then issues fresh IDs (NEW_CONNECTION_ID with Retire Prior To), and the server must
    /// switch its packets to one of them.
    #[arg(long)]
    cid_lifetime_ms: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.mode {
        Mode::Server(a) => server(a).await,
        Mode::Client(a) => client(a).await,
    }
}

// ---- shared configuration ----------------------------------------------------------------

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// QUIC v1 endpoint without fixed-bit greasing.
fn endpoint_config() -> EndpointConfig {
    let mut c = EndpointConfig::default();
    c.grease_quic_bit(false);
    c
}

/// One bidirectional stream, no unidirectional ones, no GSO (one QUIC packet per datagram).
fn transport_config() -> TransportConfig {
    let mut t = TransportConfig::default();
    t.max_concurrent_uni_streams(VarInt::from_u32(0))
        .max_concurrent_bidi_streams(VarInt::from_u32(1))
        .enable_segmentation_offload(false)
        .max_idle_timeout(Some(VarInt::from_u32(30_000).into()));
    t
}

/// 8-byte random connection IDs that expire after a lifetime (quinn's own generator with a
/// lifetime is not exported by the `quinn` crate). The bytes come from SipHash with the
/// process's random keys over a counter: unpredictable to an observer, which is all a test
/// relay needs.
struct ExpiringCids {
    hasher: std::collections::hash_map::RandomState,
    counter: u64,
    lifetime: std::time::Duration,
}

impl ExpiringCids {
    fn new(lifetime: std::time::Duration) -> Self {
        ExpiringCids {
            hasher: std::collections::hash_map::RandomState::new(),
            counter: 0,
            lifetime,
        }
    }
}

impl quinn::ConnectionIdGenerator for ExpiringCids {
    fn generate_cid(&mut self) -> quinn::ConnectionId {
        use std::hash::BuildHasher;
        self.counter += 1;
        let v = self.hasher.hash_one(self.counter);
        quinn::ConnectionId::new(&v.to_be_bytes())
    }

    fn cid_len(&self) -> usize {
        8
    }

    fn cid_lifetime(&self) -> Option<std::time::Duration> {
        Some(self.lifetime)
    }
}

/// NSS key-log writer (`LABEL <client random hex> <secret hex>` per line).
#[derive(Debug)]
struct FileKeyLog {
    file: Mutex<File>,
}

impl FileKeyLog {
    fn open(path: &Path) -> Result<Arc<Self>> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening key log {}", path.display()))?;
        Ok(Arc::new(FileKeyLog {
            file: Mutex::new(file),
        }))
    }
}

impl rustls::KeyLog for FileKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(line.as_bytes());
            let _ = f.flush();
        }
    }
}

/// `--keylog FILE`, else rustls' `KeyLogFile` (writes to `$SSLKEYLOGFILE` when that is set).
fn key_log(path: Option<&Path>) -> Result<Arc<dyn rustls::KeyLog>> {
    Ok(match path {
        Some(p) => FileKeyLog::open(p)?,
        None => Arc::new(rustls::KeyLogFile::new()),
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Copies `from` to `to` until EOF, then shuts `to` down for writing. Returns the byte count.
async fn pump<R, W>(mut from: R, mut to: W) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let n = tokio::io::copy(&mut from, &mut to).await?;
    to.shutdown().await?;
    Ok(n)
}

// ---- server ------------------------------------------------------------------------------

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

/// A fresh self-signed server certificate and its PKCS#8 key.
fn make_cert(a: &ServerArgs) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>, String)> {
    let key = rcgen::KeyPair::generate().context("generating the key")?;
    let san = if a.cert_ip {
        IpAddr::V4(Ipv4Addr::LOCALHOST).to_string()
    } else {
        a.cert_name.clone()
    };
    let mut params = rcgen::CertificateParams::new(vec![san]).context("certificate SAN")?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, a.cert_name.as_str());
    dn.push(rcgen::DnType::OrganizationName, "smbscope test");
    params.distinguished_name = dn;
    let today = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("clock before 1970")?
        .as_secs() as i64
        / 86_400;
    let date = |days: i64| {
        let (y, m, d) = civil_from_days(days);
        rcgen::date_time_ymd(y, m, d)
    };
    params.not_before = date(today - 1);
    params.not_after = date(today + a.cert_days);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .self_signed(&key)
        .context("signing the certificate")?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key_der, cert.pem()))
}

async fn server(a: ServerArgs) -> Result<()> {
    let (cert, key, pem) = make_cert(&a)?;
    if let Some(p) = &a.cert_out {
        std::fs::write(p, &pem).with_context(|| format!("writing {}", p.display()))?;
    }
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    tls.alpn_protocols = vec![ALPN_SMB.to_vec()];
    tls.key_log = key_log(a.keylog.as_deref())?;
    let mut sc = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(tls)?));
    sc.transport_config(Arc::new(transport_config()));
    sc.migration(true);
    let socket =
        std::net::UdpSocket::bind(a.listen).with_context(|| format!("binding UDP {}", a.listen))?;
    let endpoint = Endpoint::new(endpoint_config(), Some(sc), socket, Arc::new(TokioRuntime))?;
    eprintln!(
        "quic-relay server: listening on udp {} (forwarding to tcp {})",
        endpoint.local_addr()?,
        a.forward
    );
    while let Some(incoming) = endpoint.accept().await {
        let forward = a.forward;
        tokio::spawn(async move {
            if let Err(e) = serve_connection(incoming, forward).await {
                eprintln!("quic-relay server: connection error: {e:#}");
            }
        });
    }
    Ok(())
}

async fn serve_connection(incoming: quinn::Incoming, forward: SocketAddr) -> Result<()> {
    let conn = incoming.await.context("handshake")?;
    let first = conn.remote_address();
    eprintln!("quic-relay server: connection from {first}");
    // Report path changes (client migration) as the server sees them.
    let watch = conn.clone();
    tokio::spawn(async move {
        let mut last = first;
        while watch.close_reason().is_none() {
            let now = watch.remote_address();
            if now != last {
                eprintln!("quic-relay server: client migrated from {last} to {now}");
                last = now;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    loop {
        let (send, recv) = match conn.accept_bi().await {
            Ok(s) => s,
            Err(quinn::ConnectionError::ApplicationClosed(_))
            | Err(quinn::ConnectionError::LocallyClosed) => break,
            Err(e) => return Err(e.into()),
        };
        eprintln!("quic-relay server: stream {} opened", send.id());
        let tcp = TcpStream::connect(forward)
            .await
            .with_context(|| format!("connecting to {forward}"))?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            let (tr, tw) = tcp.into_split();
            let (up, down) = tokio::join!(pump(recv, tw), pump(tr, send));
            eprintln!(
                "quic-relay server: stream done, {} bytes up ({}), {} bytes down ({})",
                up.as_ref().map_or(0, |n| *n),
                up.as_ref().map_or_else(|e| e.to_string(), |_| "ok".into()),
                down.as_ref().map_or(0, |n| *n),
                down.as_ref()
                    .map_or_else(|e| e.to_string(), |_| "ok".into()),
            );
        });
    }
    eprintln!("quic-relay server: connection from {first} closed");
    Ok(())
}

// ---- client ------------------------------------------------------------------------------

/// Trusts one pinned certificate (or any, without a pin); signatures are still verified.
#[derive(Debug)]
struct PinnedCert {
    pinned: Option<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pinned {
            Some(p) if p.as_ref() != end_entity.as_ref() => Err(rustls::Error::General(
                "server certificate differs from the pinned one".into(),
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Counts the SMB messages in a Direct-TCP byte stream (4-byte header: 0x00 + 24-bit length).
#[derive(Default)]
struct Framer {
    /// Body bytes of the current message still to come (0 between messages).
    remaining: u64,
    /// Partial 4-byte header.
    header: Vec<u8>,
    /// Complete messages seen.
    messages: u64,
}

impl Framer {
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = (self.remaining as usize).min(data.len());
                self.remaining -= n as u64;
                data = &data[n..];
                if self.remaining == 0 {
                    self.messages += 1;
                }
                continue;
            }
            let need = 4 - self.header.len();
            let n = need.min(data.len());
            self.header.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.header.len() == 4 {
                let h = &self.header;
                self.remaining = u64::from(u32::from_be_bytes([0, h[1], h[2], h[3]]));
                self.header.clear();
                if self.remaining == 0 {
                    self.messages += 1;
                }
            }
        }
    }

    /// Feeds `data` up to the end of the message that brings the count to `limit`, and returns
    /// how many bytes that took (all of `data` if the count stays below `limit`).
    fn feed_until(&mut self, data: &[u8], limit: u64) -> usize {
        for i in 0..data.len() {
            if self.messages >= limit {
                return i;
            }
            self.feed(&data[i..=i]);
        }
        data.len()
    }
}

/// Rebinds the endpoint to a fresh socket on `to` (once).
fn migrate(endpoint: &Endpoint, to: SocketAddr, done: &AtomicBool) -> Result<()> {
    if done.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    let from = endpoint.local_addr()?;
    let socket = std::net::UdpSocket::bind(to).with_context(|| format!("binding UDP {to}"))?;
    endpoint.rebind(socket).context("rebinding the endpoint")?;
    eprintln!(
        "quic-relay client: migrated from {from} to {}",
        endpoint.local_addr()?
    );
    Ok(())
}

async fn client(a: ClientArgs) -> Result<()> {
    let pinned = match &a.pin_cert {
        Some(p) => Some(
            CertificateDer::from_pem_file(p)
                .map_err(|e| anyhow!("reading {}: {e}", p.display()))?,
        ),
        None => {
            eprintln!("quic-relay client: no --pin-cert, accepting any server certificate");
            None
        }
    };
    let provider = provider();
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCert { pinned, provider }))
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN_SMB.to_vec()];
    tls.key_log = key_log(a.keylog.as_deref())?;
    let mut cc = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls)?));
    cc.transport_config(Arc::new(transport_config()));

    let listener = TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("binding TCP {}", a.listen))?;
    eprintln!("quic-relay client: listening on tcp {}", a.listen);
    let (tcp, peer) = listener.accept().await?;
    drop(listener);
    tcp.set_nodelay(true)?;
    eprintln!("quic-relay client: tcp connection from {peer}");

    let socket =
        std::net::UdpSocket::bind(a.bind).with_context(|| format!("binding UDP {}", a.bind))?;
    let mut ec = endpoint_config();
    if let Some(ms) = a.cid_lifetime_ms {
        let lifetime = std::time::Duration::from_millis(ms);
        ec.cid_generator(move || Box::new(ExpiringCids::new(lifetime)));
    }
    let endpoint = Endpoint::new(ec, None, socket, Arc::new(TokioRuntime))?;
    let conn = endpoint
        .connect_with(cc, a.connect, &a.server_name)?
        .await
        .context("QUIC handshake")?;
    let alpn = conn
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.protocol)
        .map(|p| String::from_utf8_lossy(&p).into_owned());
    eprintln!(
        "quic-relay client: connected {} -> {} (server name {}, ALPN {:?})",
        endpoint.local_addr()?,
        conn.remote_address(),
        a.server_name,
        alpn.as_deref().unwrap_or("none")
    );
    if alpn.as_deref() != Some("smb") {
        bail!("server did not select ALPN smb");
    }
    let (mut send, recv) = conn.open_bi().await?;
    let migrated = Arc::new(AtomicBool::new(false));
    if let Some(ms) = a.migrate_after_ms {
        let (endpoint, to, migrated) = (endpoint.clone(), a.migrate_to, migrated.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if let Err(e) = migrate(&endpoint, to, &migrated) {
                eprintln!("quic-relay client: migration failed: {e:#}");
            }
        });
    }

    let (mut tr, tw) = tcp.into_split();
    let after = a.migrate_after_messages;
    let (ep, to, mig) = (endpoint.clone(), a.migrate_to, migrated.clone());
    // Upstream: TCP -> QUIC, counting messages when migration waits for the N-th one.
    let up = async move {
        let mut framer = Framer::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = tr.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            let mut data = &buf[..n];
            if let Some(limit) = after.filter(|_| !mig.load(Ordering::SeqCst)) {
                // Forward up to the end of message `limit`, then migrate before the rest.
                let k = framer.feed_until(data, limit);
                send.write_all(&data[..k]).await?;
                total += k as u64;
                data = &data[k..];
                if framer.messages >= limit {
                    // Let that message leave on the old path before switching.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    if let Err(e) = migrate(&ep, to, &mig) {
                        eprintln!("quic-relay client: migration failed: {e:#}");
                    }
                }
            }
            if !data.is_empty() {
                send.write_all(data).await?;
                total += data.len() as u64;
            }
        }
        send.finish()?;
        Ok::<u64, anyhow::Error>(total)
    };
    let down = async move { pump(recv, tw).await.map_err(anyhow::Error::from) };
    let (up, down) = tokio::join!(up, down);
    eprintln!(
        "quic-relay client: session done, {} bytes up, {} bytes down",
        up.as_ref().map_or(0, |n| *n),
        down.as_ref().map_or(0, |n| *n)
    );
    conn.close(VarInt::from_u32(0), b"done");
    endpoint.wait_idle().await;
    if (a.migrate_after_ms.is_some() || a.migrate_after_messages.is_some())
        && !migrated.load(Ordering::SeqCst)
    {
        eprintln!("quic-relay client: warning: the session ended before the migration");
    }
    up?;
    down?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Vec<u8> {
        let mut v = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        v.extend(std::iter::repeat_n(0xfe, len));
        v
    }

    #[test]
    fn framer_counts_messages_across_reads() {
        let mut stream = frame(70);
        stream.extend(frame(3000));
        stream.extend(frame(64));
        let mut f = Framer::default();
        for chunk in stream.chunks(7) {
            f.feed(chunk);
        }
        assert_eq!(f.messages, 3);
        assert_eq!((f.remaining, f.header.len()), (0, 0));
    }

    #[test]
    fn feed_until_stops_at_the_message_boundary() {
        let mut stream = frame(10);
        stream.extend(frame(20));
        stream.extend(frame(30));
        let mut f = Framer::default();
        // The 2nd message ends at 14 + 24 bytes.
        assert_eq!(f.feed_until(&stream, 2), 38);
        assert_eq!(f.messages, 2);
        // Already there: nothing more is consumed.
        assert_eq!(f.feed_until(&stream[38..], 2), 0);
        // Below the limit: all of it.
        let mut g = Framer::default();
        assert_eq!(g.feed_until(&stream[..20], 5), 20);
        assert_eq!(g.messages, 1);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }

    #[test]
    fn certificate_names_dns_or_ip() {
        let args = |ip: bool| ServerArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            forward: "127.0.0.1:0".parse().unwrap(),
            cert_name: "files.smbscope.test".into(),
            cert_ip: ip,
            cert_days: 30,
            cert_out: None,
            keylog: None,
        };
        let (dns, _, pem) = make_cert(&args(false)).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let needle = b"files.smbscope.test";
        assert!(dns.windows(needle.len()).any(|w| w == needle));
        let (ip, _, _) = make_cert(&args(true)).unwrap();
        // The IP SAN: context tag [7], length 4, 127.0.0.1.
        assert!(ip.windows(6).any(|w| w == [0x87, 4, 127, 0, 0, 1]));
    }
}
