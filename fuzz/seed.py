#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the project's captures (classic pcap, Ethernet).

nbss_smb: each reassembled TCP 445 direction stream (and each NBSS message);
compression: each 0xFC message; ntlmssp_spnego: each NTLMSSP token and SMB2 security blob region;
quic: each UDP payload; keyfiles: captures/*.keys, *.credentials, quic/*.keylog, the corpus keytab;
engine: whole captures in both engine modes (frames, and TCP payloads of a synthetic flow);
pcap_file: each capture's first 64 KiB, byte-swapped too, as classic pcap files.
Usage: python3 fuzz/seed.py  (from the repository root)."""
import glob, hashlib, os, struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

def put(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if 0 < len(data) <= 1 << 20:
        open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb").write(data)

def frames(path):
    b = open(path, "rb").read()
    if b[:4] != b"\xd4\xc3\xb2\xa1":
        return
    off = 24
    while off + 16 <= len(b):
        _, _, incl, _ = struct.unpack("<IIII", b[off:off + 16])
        yield b[off + 16:off + 16 + incl]
        off += 16 + incl

def decode(f):
    """(proto, sport, dport, seq, payload) for Ethernet IPv4/IPv6 TCP/UDP."""
    if len(f) < 14:
        return None
    et = struct.unpack(">H", f[12:14])[0]
    p = f[14:]
    if et == 0x0800:
        ihl = (p[0] & 15) * 4
        proto, tot = p[9], struct.unpack(">H", p[2:4])[0]
        l4 = p[ihl:tot]
    elif et == 0x86DD:
        proto, plen = p[6], struct.unpack(">H", p[4:6])[0]
        l4 = p[40:40 + plen]
    else:
        return None
    if proto == 6 and len(l4) >= 20:
        sp, dp, seq = struct.unpack(">HHI", l4[:8])
        return ("tcp", sp, dp, seq, l4[(l4[12] >> 4) * 4:])
    if proto == 17 and len(l4) >= 8:
        sp, dp = struct.unpack(">HH", l4[:4])
        return ("udp", sp, dp, 0, l4[8:])
    return None

def swapped(raw):
    """The same classic pcap file in the other byte order (file and record headers)."""
    if len(raw) < 24:
        return raw
    out = bytearray(raw[:24])
    out[0:4] = out[0:4][::-1]
    for a, b in ((4, 6), (6, 8)):
        out[a:b] = out[a:b][::-1]
    for a in (8, 12, 16, 20):
        out[a:a + 4] = out[a:a + 4][::-1]
    off = 24
    while off + 16 <= len(raw):
        hdr = raw[off:off + 16]
        caplen = struct.unpack("<I", hdr[8:12])[0]
        out += b"".join(hdr[i:i + 4][::-1] for i in range(0, 16, 4))
        out += raw[off + 16:off + 16 + caplen]
        off += 16 + caplen
    return bytes(out)

def main():
    pcaps = sorted(glob.glob(os.path.join(ROOT, "captures", "*.pcap")) +
                   glob.glob(os.path.join(ROOT, "captures", "quic", "*.pcap")) +
                   glob.glob(os.path.join(ROOT, "captures", "logon", "*.pcap")))
    for path in pcaps:
        raw = open(path, "rb").read()
        put("pcap_file", raw[:65536])
        put("pcap_file", swapped(raw[:65536]))
        fr = list(frames(path))
        streams, seen, eng_frames, eng_tcp = {}, set(), b"\x00", b"\x01"
        quic_seq, quic_clients = b"", {}
        for f in fr:
            if len(eng_frames) < 200_000:
                eng_frames += bytes([0]) + struct.pack(">H", len(f)) + f
            d = decode(f)
            if not d:
                continue
            proto, sp, dp, seq, pl = d
            if proto == "udp":
                put("quic", pl)
                # The whole connection for the engine's QUIC table: direction bit, and each
                # client port (a migration changes it) as a client address, control bits 4-5.
                if len(quic_seq) < 200_000:
                    port = dp if sp == 443 else sp
                    slot = quic_clients.setdefault(port, len(quic_clients) % 4)
                    ctl = (1 if sp == 443 else 0) | (slot << 4)
                    quic_seq += bytes([ctl]) + struct.pack(">H", len(pl)) + pl
                continue
            if not pl or (sp, dp, seq) in seen:
                continue
            seen.add((sp, dp, seq))
            streams.setdefault((sp, dp), bytearray()).extend(pl)
            if len(eng_tcp) < 200_000 and 445 in (sp, dp):
                eng_tcp += bytes([0 if dp == 445 else 1]) + struct.pack(">H", len(pl)) + pl
        put("engine", eng_frames)
        put("engine", eng_tcp)
        if quic_seq:
            put("quic", quic_seq)
        for s in streams.values():
            s = bytes(s)
            put("nbss_smb", s[:65536])
            off = 0
            while off + 4 <= len(s):
                n = struct.unpack(">I", b"\0" + s[off + 1:off + 4])[0]
                msg = s[off + 4:off + 4 + n]
                put("nbss_smb", s[off:off + 4 + n])
                if msg[:1] == b"\xfc":
                    put("compression", msg)
                i = msg.find(b"NTLMSSP\0")
                if i >= 0:
                    put("ntlmssp_spnego", msg[i:])
                    j = msg.rfind(b"\x60", 0, i)
                    k = msg.rfind(b"\xa1", 0, i)
                    for x in (j, k):
                        if x >= 0:
                            put("ntlmssp_spnego", msg[x:])
                off += 4 + n
    for pat in ("*.keys", "*.credentials", "quic/*.keylog", "quic/*.keys"):
        for p in glob.glob(os.path.join(ROOT, "captures", pat)):
            put("keyfiles", open(p, "rb").read())
    # A real MIT keytab, read from the shared corpus beside the repository when it is there
    # (third-party data: seeds the local fuzz corpus, never copied into the project).
    keytab = os.path.join(ROOT, "..", "shared", "corpus", "zeek", "smb2_krb.keytab")
    if os.path.exists(keytab):
        put("keyfiles", open(keytab, "rb").read())
    for t in sorted(os.listdir(CORPUS)):
        print(t, len(os.listdir(os.path.join(CORPUS, t))))

main()
