#!/usr/bin/env python3
"""Cross-check an SMB capture with tshark and write its expected-answers JSON.

Used by captures/generate.sh; needs only python3 and tshark (no smbscope).

  check_capture.py make NAME --pcap F [--keys K] [--credentials C] [k=v ...] --out J
      Build the expected answers for scenario NAME from its definition (the
      k=v pairs plus defaults), observe the capture with tshark, fail (exit 1)
      if any defined value disagrees with the traffic, write J and print one
      summary line.
  check_capture.py verify J [J ...]
      Re-observe <name>.pcap next to each J (with its .keys/.credentials) and
      compare with the stored answers.
  check_capture.py observe F [--keys K] [--credentials C]
      Print everything observed, as JSON.

Independent cross-checks done here (none of them uses smbscope):
  * NTLM: the NTLMv2 proof is recomputed from the .credentials password and
    the wire challenge, and the session key derived from it (MS-NLMP; NTLMv1
    and NTLMv1-ESS too) is compared with the "Session Key" smbclient dumped
    into .keys.
  * tshark is given that password-derived session key only; it must decrypt
    every TRANSFORM frame (3.x encryption) and, for HMAC-SHA256 / AES-CMAC,
    find every signature good (tshark 4.0 cannot check AES-GMAC or SMB1).
  * Our own code (raw pcap, no tshark): SMB 3.1.1 preauth hash + SP800-108
    KDF must reproduce every key in .keys; every SMB2 signature (HMAC-SHA256,
    AES-CMAC, AES-GMAC) must verify; every TRANSFORM must decrypt
    (AES-128/256-CCM/GCM; needs python3-cryptography); SMB1 MD5 signatures
    must verify.
"""
import argparse
import hashlib
import hmac
import json
import os
import re
import struct
import subprocess
import sys

# --------------------------------------------------------------------------
# crypto helpers (MD4 and RC4 are not reliably in hashlib/OpenSSL 3)
# --------------------------------------------------------------------------

def md4(data: bytes) -> bytes:
    def f(x, y, z): return (x & y) | (~x & z)
    def g(x, y, z): return (x & y) | (x & z) | (y & z)
    def h(x, y, z): return x ^ y ^ z
    def rol(v, s): v &= 0xFFFFFFFF; return ((v << s) | (v >> (32 - s))) & 0xFFFFFFFF
    msg = bytearray(data)
    ml = len(data) * 8
    msg.append(0x80)
    while len(msg) % 64 != 56:
        msg.append(0)
    msg += struct.pack('<Q', ml)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for off in range(0, len(msg), 64):
        X = struct.unpack('<16I', msg[off:off + 64])
        aa, bb, cc, dd = a, b, c, d
        for i in range(16):
            k, s = i, (3, 7, 11, 19)[i % 4]
            if i % 4 == 0: a = rol(a + f(b, c, d) + X[k], s)
            elif i % 4 == 1: d = rol(d + f(a, b, c) + X[k], s)
            elif i % 4 == 2: c = rol(c + f(d, a, b) + X[k], s)
            else: b = rol(b + f(c, d, a) + X[k], s)
        for i in range(16):
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            t = 0x5A827999
            if i % 4 == 0: a = rol(a + g(b, c, d) + X[k] + t, s)
            elif i % 4 == 1: d = rol(d + g(a, b, c) + X[k] + t, s)
            elif i % 4 == 2: c = rol(c + g(d, a, b) + X[k] + t, s)
            else: b = rol(b + g(c, d, a) + X[k] + t, s)
        order = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)
        for i in range(16):
            k, s = order[i], (3, 9, 11, 15)[i % 4]
            t = 0x6ED9EBA1
            if i % 4 == 0: a = rol(a + h(b, c, d) + X[k] + t, s)
            elif i % 4 == 1: d = rol(d + h(a, b, c) + X[k] + t, s)
            elif i % 4 == 2: c = rol(c + h(d, a, b) + X[k] + t, s)
            else: b = rol(b + h(c, d, a) + X[k] + t, s)
        a, b, c, d = [(x + y) & 0xFFFFFFFF for x, y in zip((a, b, c, d), (aa, bb, cc, dd))]
    return struct.pack('<4I', a, b, c, d)


assert md4(b'abc').hex() == 'a448017aaf21d8525fc10ae87aa6729d'


def rc4(key: bytes, data: bytes) -> bytes:
    S = list(range(256))
    j = 0
    for i in range(256):
        j = (j + S[i] + key[i % len(key)]) & 0xFF
        S[i], S[j] = S[j], S[i]
    i = j = 0
    out = bytearray()
    for ch in data:
        i = (i + 1) & 0xFF
        j = (j + S[i]) & 0xFF
        S[i], S[j] = S[j], S[i]
        out.append(ch ^ S[(S[i] + S[j]) & 0xFF])
    return bytes(out)


def hmac_md5(k, m):
    return hmac.new(k, m, hashlib.md5).digest()

# --------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------

DIALECTS = {0x0202: '2.0.2', 0x0210: '2.1', 0x0300: '3.0', 0x0302: '3.0.2', 0x0311: '3.1.1', 0x02FF: '2.???'}
CIPHERS = {1: 'AES-128-CCM', 2: 'AES-128-GCM', 3: 'AES-256-CCM', 4: 'AES-256-GCM'}
SIGNING = {0: 'HMAC-SHA256', 1: 'AES-128-CMAC', 2: 'AES-128-GMAC'}
STATUS = {
    0x00000000: 'STATUS_SUCCESS', 0x00000103: 'STATUS_PENDING',
    0x80000005: 'STATUS_BUFFER_OVERFLOW', 0x80000006: 'STATUS_NO_MORE_FILES',
    0xC0000016: 'STATUS_MORE_PROCESSING_REQUIRED', 0xC0000022: 'STATUS_ACCESS_DENIED',
    0xC0000034: 'STATUS_OBJECT_NAME_NOT_FOUND', 0xC0000035: 'STATUS_OBJECT_NAME_COLLISION',
    0xC000003A: 'STATUS_OBJECT_PATH_NOT_FOUND', 0xC000006D: 'STATUS_LOGON_FAILURE',
    0xC00000BB: 'STATUS_NOT_SUPPORTED', 0xC00000CC: 'STATUS_BAD_NETWORK_NAME',
    0xC000000D: 'STATUS_INVALID_PARAMETER', 0xC0000010: 'STATUS_INVALID_DEVICE_REQUEST',
    0xC0000101: 'STATUS_DIRECTORY_NOT_EMPTY', 0xC0000225: 'STATUS_NOT_FOUND',
    0xC000015B: 'STATUS_LOGON_TYPE_NOT_GRANTED', 0xC0000203: 'STATUS_USER_SESSION_DELETED',
    0xC000006E: 'STATUS_ACCOUNT_RESTRICTION', 0xC0000120: 'STATUS_CANCELLED',
}
# Statuses that are part of normal operation, never "notable".
ROUTINE = {0x00000000, 0x00000103, 0xC0000016, 0x80000006}
# Commands whose error statuses are notable (the ones a posture inspector
# cares about): logon, tree connect, open, read, write.
SMB2_NOTABLE_CMDS = {1, 3, 5, 8, 9}
SMB1_NOTABLE_CMDS = {0x73, 0x75, 0xA2, 0x2E, 0x2F, 0x00, 0x01, 0x06}


def status_name(v):
    return STATUS.get(v, '0x%08X' % v)


def as_int(v):
    if v is None:
        return None
    if isinstance(v, list):
        v = v[0]
    return int(v, 0)

# --------------------------------------------------------------------------
# tshark
# --------------------------------------------------------------------------

def unhex(s):
    return bytes.fromhex(s.replace(':', '')) if s else b''


def tshark_json(pcap, opts):
    cmd = ['tshark', '-n', '-r', pcap, '-T', 'json', '--no-duplicate-keys']
    for o in opts:
        cmd += ['-o', o]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit('tshark failed: %s' % r.stderr.strip())
    return json.loads(r.stdout or '[]')


def flatten(node, out, stop_keys=()):
    """Collect every leaf key -> [values] under node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in stop_keys:
                continue
            if isinstance(v, (dict, list)):
                if isinstance(v, list) and all(isinstance(x, str) for x in v):
                    out.setdefault(k, []).extend(v)
                else:
                    flatten(v, out, stop_keys)
            else:
                out.setdefault(k, []).append(v)
    elif isinstance(node, list):
        for x in node:
            flatten(x, out, stop_keys)


def find_pdus(node, header_key, encrypted, acc):
    """Every dict holding header_key ('SMB2 Header' / 'SMB Header') is one PDU."""
    if isinstance(node, dict):
        if header_key in node:
            f = {}
            flatten(node, f)
            acc.append((f, encrypted))
            return
        for k, v in node.items():
            find_pdus(v, header_key, encrypted or k == 'Encrypted SMB3 data', acc)
    elif isinstance(node, list):
        for x in node:
            find_pdus(x, header_key, encrypted, acc)


def first(f, k, default=None):
    v = f.get(k)
    return v[0] if v else default


def parse_ntlmssp(blob):
    """Return dict for an NTLMSSP message found in a security blob."""
    i = blob.find(b'NTLMSSP\x00')
    if i < 0:
        return None
    m = blob[i:]
    if len(m) < 12:
        return None
    mtype = struct.unpack_from('<I', m, 8)[0]

    def field(off):
        ln, _mx, o = struct.unpack_from('<HHI', m, off)
        return m[o:o + ln]
    if mtype == 2:
        return {'type': 2, 'flags': struct.unpack_from('<I', m, 20)[0], 'challenge': m[24:32]}
    if mtype == 3:
        flags = struct.unpack_from('<I', m, 60)[0]
        uni = flags & 1
        dec = (lambda b: b.decode('utf-16-le')) if uni else (lambda b: b.decode('latin-1'))
        return {'type': 3, 'lm': field(12), 'nt': field(20), 'domain': dec(field(28)),
                'user': dec(field(36)), 'workstation': dec(field(44)),
                'enc_key': field(52), 'flags': flags}
    return {'type': mtype}


def ntlm_session_key(password, auth, server_challenge):
    """MS-NLMP: (proof_ok or None, session key) from the password and the wire."""
    nthash = md4(password.encode('utf-16-le'))
    nt, flags = auth['nt'], auth['flags']
    if len(nt) > 24:  # NTLMv2
        rk = hmac_md5(nthash, (auth['user'].upper() + auth['domain']).encode('utf-16-le'))
        proof = hmac_md5(rk, server_challenge + nt[16:])
        ok = proof == nt[:16]
        kek = hmac_md5(rk, nt[:16])
    elif len(nt) == 24:  # NTLMv1 (proof needs DES: not checked)
        ok = None
        base = md4(nthash)
        if flags & 0x00080000:  # extended session security
            kek = hmac_md5(base, server_challenge + auth['lm'][:8])
        else:
            kek = base
    else:
        return None, None
    if flags & 0x40000000 and auth['enc_key']:
        key = rc4(kek, auth['enc_key'])
    else:
        key = kek
    return ok, key


def parse_keys_file(path):
    """smbclient 'debug encryption' dump -> list of {label: bytes}."""
    sessions, cur, label = [], None, None
    for line in open(path, encoding='utf-8', errors='replace'):
        m = re.match(r'^(Session Id|Session Key|Signing Key|App Key|ServerIn Key|ServerOut Key)?\s*\[([0-9A-Fa-f]{4})\]\s+(.*)$', line)
        if not m:
            continue
        if m.group(1):
            label = m.group(1)
            if label == 'Session Id':
                cur = {}
                sessions.append(cur)
            cur[label] = b''
        hexpart = m.group(3)[:50]  # the hex columns, not the ASCII column
        cur[label] += bytes(int(x, 16) for x in re.findall(r'\b[0-9A-Fa-f]{2}\b', hexpart))
    return sessions


def uat(entries):
    rows = []
    for sid, sk, s2c, c2s in entries:
        # tshark 4.0's UAT takes at most 16 bytes of session key.  A Kerberos
        # session key can be 32 (AES-256 ticket); its first 16 bytes are what
        # the 128-bit KDFs use (MS-SMB2 3.2.5.3.1), and the 256-bit cipher
        # keys come in full through s2c/c2s from the key dump.
        sk = sk[:16] if sk else sk
        rows.append('%s,%s,%s,%s' % (sid.hex(), sk.hex() if sk else '""',
                                     s2c.hex() if s2c else '""', c2s.hex() if c2s else '""'))
    return ['smb2.verify_signatures:TRUE'] + ['uat:smb2_seskey_list:' + r for r in rows]


def read_credentials(path):
    line = open(path, encoding='utf-8').read().rstrip('\n')
    who, pw = line.split(':', 1)
    dom, user = who.split('\\', 1) if '\\' in who else ('', who)
    return dom, user, pw

# --------------------------------------------------------------------------
# our own SMB2 crypto checks (independent of tshark): raw pcap -> TCP streams
# -> SMB2 messages; preauth hash, SP800-108 KDF, signatures (HMAC-SHA256,
# AES-CMAC, AES-GMAC) and TRANSFORM decryption.  Needs python3-cryptography
# for AES; without it only HMAC-SHA256 is checked.
# --------------------------------------------------------------------------

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM
    from cryptography.hazmat.primitives.cmac import CMAC
    from cryptography.hazmat.primitives.ciphers import algorithms
    HAVE_AES = True
except Exception:  # pragma: no cover
    HAVE_AES = False


def pcap_connections(path):
    """Classic pcap (Ethernet/IPv4/TCP) -> {conn: [(direction, bytes)]}, where
    conn = (client ip:port, server ip:port) and direction 'c2s' / 's2c'.
    Loopback captures are loss-free and in order; duplicates are dropped."""
    data = open(path, 'rb').read()
    magic = struct.unpack_from('<I', data, 0)[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise ValueError('not a little-endian classic pcap')
    off, segs = 24, {}
    while off + 16 <= len(data):
        _s, _u, incl, _orig = struct.unpack_from('<IIII', data, off)
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if pkt[12:14] != b'\x08\x00':
            continue
        ip = pkt[14:]
        ihl, tot = (ip[0] & 15) * 4, struct.unpack_from('>H', ip, 2)[0]
        if ip[9] != 6:
            continue
        tcp = ip[ihl:tot]
        sport, dport, seq = struct.unpack_from('>HHI', tcp, 0)
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            segs.setdefault((ip[12:16], sport, ip[16:20], dport), []).append((seq, payload))
    conns = {}
    for (sip, sp, dip, dp), lst in segs.items():
        # Sequence numbers relative to the first segment, so that a stream
        # whose 32-bit sequence number wraps (more likely with the 1 MiB bulk
        # transfers) still reassembles.
        isn = lst[0][0]
        lst = [((seq - isn) & 0xFFFFFFFF, pl) for seq, pl in lst]
        buf, nxt = bytearray(), None
        for seq, pl in lst:
            if nxt is None:
                nxt = seq
            if seq + len(pl) <= nxt:
                continue
            if seq < nxt:
                pl, seq = pl[nxt - seq:], nxt
            buf += pl
            nxt = seq + len(pl)
        if dp == 445:
            conns.setdefault(((sip, sp), (dip, dp)), {})['c2s'] = bytes(buf)
        else:
            conns.setdefault(((dip, dp), (sip, sp)), {})['s2c'] = bytes(buf)
    return conns


def nbss_messages(stream):
    out, i = [], 0
    while i + 4 <= len(stream):
        ln = int.from_bytes(stream[i + 1:i + 4], 'big')
        out.append(stream[i + 4:i + 4 + ln])
        i += 4 + ln
    return out


def split_compound(pkt):
    out = []
    while len(pkt) >= 64:
        nxt = struct.unpack_from('<I', pkt, 20)[0]
        out.append(pkt[:nxt] if nxt else pkt)
        if not nxt:
            break
        pkt = pkt[nxt:]
    return out


def kdf(ki, label, context, bits=128):
    return hmac.new(ki, struct.pack('>I', 1) + label + b'\x00' + context + struct.pack('>I', bits),
                    hashlib.sha256).digest()[:bits // 8]


def own_crypto_checks(pcap, dialect, sig_alg, cipher_name, session_key, dumped):
    """Return a dict of check results."""
    res = {}
    conns = pcap_connections(pcap)
    for conn, dirs in conns.items():
        c2s = nbss_messages(dirs.get('c2s', b''))
        s2c = nbss_messages(dirs.get('s2c', b''))
        if not c2s or c2s[0][:4] != b'\xfeSMB':
            continue
        # messages in wire order per direction, with direction tag
        msgs = [('c2s', m) for m in c2s] + [('s2c', m) for m in s2c]
        # preauth integrity hash (3.1.1): NEGOTIATE req/rsp, then SESSION_SETUP
        # requests and MORE_PROCESSING responses, ordered by MessageId.
        def hdr(m):
            return struct.unpack_from('<I', m, 8)[0], struct.unpack_from('<H', m, 12)[0], struct.unpack_from('<Q', m, 24)[0]
        plain = [(d, m) for d, raw in msgs if raw[:4] == b'\xfeSMB' for m in split_compound(raw)]
        neg_req = next(m for d, m in plain if d == 'c2s' and hdr(m)[1] == 0)
        neg_rsp = next(m for d, m in plain if d == 's2c' and hdr(m)[1] == 0)
        setup = sorted([(hdr(m)[2], 0 if d == 'c2s' else 1, d, m) for d, m in plain if hdr(m)[1] == 1])
        if session_key is None:
            return res
        big = cipher_name in ('AES-256-CCM', 'AES-256-GCM')
        # MS-SMB2 3.3.5.5.3: Session.SessionKey is the first 16 bytes of the
        # GSS key; only the AES-256 cipher keys use the full key (3.2.5.3.1).
        full_key, session_key = session_key, session_key[:16]
        cipher_ki = full_key if big else session_key
        if dialect == '3.1.1':
            H = hashlib.sha512(b'\x00' * 64 + neg_req).digest()
            H = hashlib.sha512(H + neg_rsp).digest()
            for _mid, _o, d, m in setup:
                st = hdr(m)[0]
                if d == 'c2s' or st == 0xC0000016:
                    H = hashlib.sha512(H + m).digest()
            sign_key = kdf(session_key, b'SMBSigningKey\x00', H)
            c2s_key = kdf(cipher_ki, b'SMBC2SCipherKey\x00', H, 256 if big else 128)
            s2c_key = kdf(cipher_ki, b'SMBS2CCipherKey\x00', H, 256 if big else 128)
            app_key = kdf(session_key, b'SMBAppKey\x00', H)
        elif dialect in ('3.0', '3.0.2'):
            sign_key = kdf(session_key, b'SMB2AESCMAC\x00', b'SmbSign\x00')
            c2s_key = kdf(session_key, b'SMB2AESCCM\x00', b'ServerIn \x00')
            s2c_key = kdf(session_key, b'SMB2AESCCM\x00', b'ServerOut\x00')
            app_key = kdf(session_key, b'SMB2APP\x00', b'SmbRpc\x00')
        else:
            sign_key, c2s_key, s2c_key, app_key = session_key, None, None, None
        if dumped and dialect.startswith('3'):
            res['own_kdf_keys_equal_dumped_keys'] = (
                sign_key == dumped.get('Signing Key') and app_key == dumped.get('App Key')
                and c2s_key == dumped.get('ServerIn Key') and s2c_key == dumped.get('ServerOut Key'))
        # signatures
        good = bad = 0
        skipped = None
        for d, raw in msgs:
            if raw[:4] != b'\xfeSMB':
                continue
            for m in split_compound(raw):
                flags = struct.unpack_from('<I', m, 16)[0]
                if not flags & 0x8:
                    continue
                z = m[:48] + b'\x00' * 16 + m[64:]
                if sig_alg == 'HMAC-SHA256':
                    mac = hmac.new(sign_key, z, hashlib.sha256).digest()[:16]
                elif not HAVE_AES:
                    skipped = 'python3-cryptography missing'
                    continue
                elif sig_alg == 'AES-128-CMAC':
                    c = CMAC(algorithms.AES(sign_key))
                    c.update(z)
                    mac = c.finalize()
                else:  # AES-128-GMAC
                    cmd = struct.unpack_from('<H', m, 12)[0]
                    nonce = m[24:32] + struct.pack('<I', (1 if flags & 1 else 0) | (2 if cmd == 0x0C and not flags & 1 else 0))
                    mac = AESGCM(sign_key).encrypt(nonce, b'', z)
                if mac == m[48:64]:
                    good += 1
                else:
                    bad += 1
        res['own_signatures_good'] = good
        res['own_signatures_bad'] = bad
        if skipped:
            res['own_signatures_skipped'] = skipped
        # TRANSFORM decryption
        ok = fail = 0
        if any(raw[:4] == b'\xfdSMB' for _d, raw in msgs):
            if not HAVE_AES or c2s_key is None:
                res['own_decryption'] = 'not checked'
            else:
                for d, raw in msgs:
                    if raw[:4] != b'\xfdSMB':
                        continue
                    key = c2s_key if d == 'c2s' else s2c_key
                    tag, nonce, aad, ct = raw[4:20], raw[20:36], raw[20:52], raw[52:]
                    try:
                        if cipher_name.endswith('GCM'):
                            pt = AESGCM(key).decrypt(nonce[:12], ct + tag, aad)
                        else:
                            pt = AESCCM(key, tag_length=16).decrypt(nonce[:11], ct + tag, aad)
                        ok += pt[:4] == b'\xfeSMB'
                        fail += pt[:4] != b'\xfeSMB'
                    except Exception:
                        fail += 1
                res['own_decrypted_transforms'] = ok
                res['own_decrypt_failures'] = fail
        break  # one SMB2 connection per scenario
    return res


# --------------------------------------------------------------------------
# observation
# --------------------------------------------------------------------------

def collect(pcap, opts):
    frames = tshark_json(pcap, opts)
    smb2, smb1 = [], []
    transform_frames = 0
    nframes = len(frames)
    for fr in frames:
        layers = fr['_source']['layers']
        fno = int(first(flat_of(layers.get('frame', {})), 'frame.number', '0'))
        stream = first(flat_of(layers.get('tcp', {})), 'tcp.stream', '0')
        if 'smb2' in layers:
            s = layers['smb2']
            for part in (s if isinstance(s, list) else [s]):
                if isinstance(part, dict) and 'SMB2 Transform Header' in part:
                    transform_frames += 1
            acc = []
            find_pdus(s, 'SMB2 Header', False, acc)
            for f, enc in acc:
                smb2.append({'frame': fno, 'stream': stream, 'f': f, 'enc': enc})
        if 'smb' in layers:
            acc = []
            find_pdus(layers['smb'], 'SMB Header', False, acc)
            for f, enc in acc:
                smb1.append({'frame': fno, 'stream': stream, 'f': f, 'enc': False})
    return nframes, transform_frames, smb2, smb1


def flat_of(node):
    f = {}
    flatten(node, f)
    return f


def observe(pcap, keys_path=None, cred_path=None):
    obs = {'checks': {}, 'warnings': []}
    # First pass without keys: negotiate, session setup and NTLM are clear text.
    nframes, ntransform, smb2, smb1 = collect(pcap, [])
    obs['frames'] = nframes
    obs['transform_frames'] = ntransform
    key_sessions = parse_keys_file(keys_path) if keys_path else []
    cred = read_credentials(cred_path) if cred_path else None

    # ---- NTLMSSP (SMB1 or SMB2 session setup blobs) ----
    challenge, auth = None, None
    for p in smb2 + smb1:
        for k in ('smb2.security_blob', 'smb.security_blob'):
            for v in p['f'].get(k, []):
                m = parse_ntlmssp(unhex(v))
                if not m:
                    continue
                if m['type'] == 2 and challenge is None:
                    challenge = m
                if m['type'] == 3 and auth is None:
                    auth = m
    if auth:
        obs['user'] = auth['user']
        obs['domain'] = auth['domain']
        obs['workstation'] = auth['workstation']
        obs['nt_response_len'] = len(auth['nt'])
        obs['lm_response_len'] = len(auth['lm'])
        obs['ntlm_flags'] = '0x%08X' % auth['flags']
        if auth['user'] == '' and len(auth['nt']) == 0:
            obs['auth'] = 'anonymous'
        elif len(auth['nt']) == 0:
            obs['auth'] = 'none'   # a user name but no LM/NT response (smbclient -N)
        elif len(auth['nt']) == 24:
            obs['auth'] = 'ntlmv1'
        else:
            obs['auth'] = 'ntlmv2'
        # NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY in the AUTHENTICATE message
        # (only meaningful for NTLMv1: "NTLM2 session response")
        obs['ntlm_extended_session_security'] = bool(auth['flags'] & 0x00080000)
    else:
        obs['auth'] = None

    derived_key = None
    if cred and auth and challenge:
        dom, user, pw = cred
        if (dom, user) != (auth['domain'], auth['user']):
            obs['warnings'].append('credentials %s\\%s differ from wire %s\\%s' % (dom, user, auth['domain'], auth['user']))
        ok, derived_key = ntlm_session_key(pw, auth, challenge['challenge'])
        obs['checks']['ntlm_proof_matches_password'] = ok
        obs['derived_session_key'] = derived_key.hex() if derived_key else None
    if key_sessions:
        ks = key_sessions[0]
        obs['keys_session_id'] = ks.get('Session Id', b'').hex()
        if derived_key is not None:
            obs['checks']['password_key_equals_dumped_key'] = (derived_key == ks.get('Session Key', b'')[:16])

    if smb2:
        observe_smb2(pcap, obs, smb2, derived_key, key_sessions)
    elif smb1:
        observe_smb1(obs, smb1)
        if derived_key is not None and obs['signed_messages']:
            good, total = check_smb1_signatures(pcap, derived_key)
            obs['checks']['md5_signatures_good'] = good
            obs['checks']['md5_signatures_bad'] = total - good
    else:
        obs['dialect'] = None
    return obs


def observe_smb2(pcap, obs, pdus, derived_key, key_sessions):
    def hdr(p):
        f = p['f']
        return as_int(first(f, 'smb2.cmd')), first(f, 'smb2.flags.response') == '1', as_int(first(f, 'smb2.nt_status', '0'))

    neg_req = next((p for p in pdus if hdr(p)[0] == 0 and not hdr(p)[1]), None)
    neg_rsp = next((p for p in pdus if hdr(p)[0] == 0 and hdr(p)[1]), None)
    if neg_rsp is None:
        obs['dialect'] = None
        return
    d = as_int(first(neg_rsp['f'], 'smb2.dialect'))
    obs['dialect'] = DIALECTS.get(d, '0x%04X' % d)
    obs['dialects_offered'] = [DIALECTS.get(int(x, 0), x) for x in neg_req['f'].get('smb2.dialect', [])] if neg_req else []
    obs['client_signing_required'] = bool(neg_req) and first(neg_req['f'], 'smb2.sec_mode.sign_required') == '1'
    obs['server_signing_required'] = first(neg_rsp['f'], 'smb2.sec_mode.sign_required') == '1'
    cid = first(neg_rsp['f'], 'smb2.negotiate_context.cipher_id')
    obs['negotiated_cipher'] = CIPHERS.get(as_int(cid)) if cid else None
    sid = first(neg_rsp['f'], 'smb2.negotiate_context.signing_id')
    if obs['dialect'] == '3.1.1':
        sig_alg = SIGNING.get(as_int(sid), sid) if sid else 'AES-128-CMAC'
    elif obs['dialect'] in ('3.0', '3.0.2'):
        sig_alg = 'AES-128-CMAC'
    else:
        sig_alg = 'HMAC-SHA256'
    netname = first(neg_req['f'], 'smb2.negotiate_context.netname') if neg_req else None
    if netname:
        obs['netname'] = netname

    # ---- sessions ----
    ss_rsps = [p for p in pdus if hdr(p)[0] == 1 and hdr(p)[1]]
    final = next((p for p in ss_rsps if hdr(p)[2] == 0), None)
    flags = as_int(first(final['f'], 'smb2.session_flags', '0')) if final else None
    obs['session_flags'] = '0x%04X' % flags if flags is not None else None
    obs['logon_ok'] = final is not None
    obs['guest'] = bool(flags and flags & 1)
    obs['null_session_flag'] = bool(flags and flags & 2)
    obs['anonymous'] = obs.get('auth') == 'anonymous' or obs['null_session_flag']
    obs['session_encrypt_data'] = bool(flags and flags & 4)
    sesids = []
    for p in ss_rsps:
        s = first(p['f'], 'smb2.sesid')
        if s and int(s, 0) and s not in sesids:
            sesids.append(s)
    obs['session_ids'] = sesids

    # ---- second pass with keys: decrypt and check signatures ----
    second = None
    if obs['transform_frames'] or derived_key is not None:
        entries = []
        if derived_key is not None and sesids:
            for s in sesids:
                entries.append((struct.pack('<Q', int(s, 0)), derived_key, None, None))
            second = collect(pcap, uat(entries))
            how = 'password-derived session key'
            if second[1] and not all_decrypted(second):
                second = None
        if second is None and key_sessions:
            entries = [(k.get('Session Id', b''), k.get('Session Key', b''), k.get('ServerOut Key'), k.get('ServerIn Key'))
                       for k in key_sessions]
            second = collect(pcap, uat(entries))
            how = 'dumped keys (.keys)'
        if second is not None:
            obs['checks']['tshark_keys_used'] = how
            pdus = second[2]
    if obs['transform_frames']:
        obs['checks']['tshark_decrypted_all_transforms'] = bool(second) and all_decrypted(second)
        if not obs['checks']['tshark_decrypted_all_transforms']:
            obs['warnings'].append('could not decrypt TRANSFORM frames; tree/file facts are incomplete')

    good = sum(1 for p in pdus if 'smb2.good_signature' in p['f'])
    bad = sum(1 for p in pdus if 'smb2.bad_signature' in p['f'] or 'smb2.invalid_signature' in p['f'])
    signed = [p for p in pdus if first(p['f'], 'smb2.flags.signature') == '1']
    obs['signed_messages'] = len(signed)
    obs['encrypted_messages'] = sum(1 for p in pdus if p['enc'])
    # Messages after logon that are neither signed nor encrypted (interim
    # STATUS_PENDING responses are unsigned by design and not counted).
    after = False
    unprotected = 0
    for p in pdus:
        cmd, rsp, st = hdr(p)
        if cmd == 1 and rsp and st == 0:
            after = True
            continue
        if not after or p['enc'] or cmd in (0, 1):
            continue
        if rsp and st == 0x103:
            continue
        if first(p['f'], 'smb2.flags.signature') != '1':
            unprotected += 1
    obs['unprotected_messages_after_logon'] = unprotected
    obs['signing_algorithm'] = sig_alg if signed else None
    obs['negotiated_signing_algorithm'] = sig_alg
    if obs['transform_frames']:
        obs['cipher'] = obs['negotiated_cipher'] if obs['dialect'] == '3.1.1' else 'AES-128-CCM'
    else:
        obs['cipher'] = None
    obs['encrypted'] = obs['transform_frames'] > 0
    if second is not None and sig_alg != 'AES-128-GMAC':
        obs['checks']['tshark_signatures_good'] = good
        obs['checks']['tshark_signatures_bad'] = bad
    elif second is not None:
        obs['checks']['tshark_signatures'] = 'not checked (tshark 4.0 has no AES-GMAC)'

    # ---- trees, files, statuses ----
    reqs = {}
    for p in pdus:
        cmd, rsp, st = hdr(p)
        if not rsp:
            reqs[(p['stream'], first(p['f'], 'smb2.msg_id'), cmd)] = p
    trees, files, statuses = [], [], []
    for p in pdus:
        cmd, rsp, st = hdr(p)
        if cmd == 5 and not rsp:
            fn = first(p['f'], 'smb2.filename')
            if fn and fn not in files:
                files.append(fn)
        if not rsp:
            continue
        if cmd == 3:
            rq = reqs.get((p['stream'], first(p['f'], 'smb2.msg_id'), 3))
            path = rq['f']['smb2.tree'][-1] if rq and rq['f'].get('smb2.tree') else None
            trees.append({'path': path,
                          'encrypt_data': first(p['f'], 'smb2.share_flags.encrypt_data') == '1',
                          'status': status_name(st)})
        if st not in ROUTINE and cmd in SMB2_NOTABLE_CMDS:
            n = status_name(st)
            if n not in statuses:
                statuses.append(n)
    obs['trees'] = trees
    obs['files'] = files
    obs['statuses'] = statuses

    # our own signature / decryption checks
    sk = derived_key
    if sk is None and key_sessions:
        # The full key: a Kerberos AES-256 ticket gives 32 bytes (see below).
        sk = key_sessions[0].get('Session Key', b'') or None
    if sk is not None and obs['logon_ok']:
        obs['checks'].update(own_crypto_checks(pcap, obs['dialect'], sig_alg, obs['cipher'] or obs['negotiated_cipher'],
                                               sk, key_sessions[0] if key_sessions else None))


def all_decrypted(collected):
    _n, ntransform, pdus, _s1 = collected
    return ntransform > 0 and sum(1 for p in pdus if p['enc']) >= ntransform


def check_smb1_signatures(pcap, key):
    """Verify SMB1 MD5 signatures ourselves (tshark does not): MAC =
    MD5(session key || message with the signature field set to the sequence
    number)[0..8].  The first message with a real signature is the final
    SESSION_SETUP response, sequence 1 (its request was 0); each further
    message adds 1 (no NT_CANCEL / oplock breaks in these captures)."""
    r = subprocess.run(['tshark', '-n', '-r', pcap, '-T', 'json', '-x', '--no-duplicate-keys'],
                       capture_output=True, text=True, check=True)
    msgs = []
    for fr in json.loads(r.stdout or '[]'):
        raw = fr['_source']['layers'].get('smb_raw')
        if raw:
            msgs.append(bytes.fromhex(raw[0] if isinstance(raw[0], str) else raw[0][0]))
    seq, good, total = None, 0, 0
    for m in msgs:
        sig = m[14:22]
        if sig in (b'BSRSPYL ', b'\0' * 8):
            continue
        seq = 1 if seq is None else seq + 1
        mac = hashlib.md5(key + m[:14] + struct.pack('<II', seq, 0) + m[22:]).digest()[:8]
        total += 1
        good += mac == sig
    return good, total


def observe_smb1(obs, pdus):
    def hdr(p):
        f = p['f']
        return as_int(first(f, 'smb.cmd')), first(f, 'smb.flags.response') == '1', as_int(first(f, 'smb.nt_status', '0'))
    neg_req = next((p for p in pdus if hdr(p)[0] == 0x72 and not hdr(p)[1]), None)
    neg_rsp = next((p for p in pdus if hdr(p)[0] == 0x72 and hdr(p)[1]), None)
    obs['dialect'] = 'SMB1'
    names = neg_req['f'].get('smb.dialect', []) if neg_req else []
    idx = as_int(first(neg_rsp['f'], 'smb.dialect.index')) if neg_rsp else None
    obs['dialects_offered'] = names
    obs['smb1_dialect'] = names[idx] if idx is not None and idx < len(names) else None
    obs['server_signing_required'] = bool(neg_rsp) and first(neg_rsp['f'], 'smb.sm.sig_required') == '1'
    ss_req = [p for p in pdus if hdr(p)[0] == 0x73 and not hdr(p)[1]]
    obs['client_signing_required'] = any(first(p['f'], 'smb.flags2.sec_sig_required') == '1' for p in ss_req)
    ss_rsps = [p for p in pdus if hdr(p)[0] == 0x73 and hdr(p)[1]]
    final = next((p for p in ss_rsps if hdr(p)[2] == 0), None)
    obs['logon_ok'] = final is not None
    act = as_int(first(final['f'], 'smb.setup.action', '0')) if final else 0
    obs['session_flags'] = None
    obs['smb1_action'] = '0x%04X' % act if final else None
    obs['guest'] = bool(act & 1)
    obs['anonymous'] = obs.get('auth') == 'anonymous'
    obs['session_encrypt_data'] = False
    obs['negotiated_cipher'] = None
    obs['cipher'] = None
    obs['encrypted'] = False
    signed = [p for p in pdus if first(p['f'], 'smb.flags2.sec_sig') == '1'
              and unhex(first(p['f'], 'smb.signature', '')) not in (b'', b'\0' * 8, b'BSRSPYL ')]
    obs['signed_messages'] = len(signed)
    obs['signing_algorithm'] = 'MD5' if signed else None
    obs['negotiated_signing_algorithm'] = 'MD5'
    reqs = {}
    trees, files, statuses = [], [], []
    for p in pdus:
        cmd, rsp, st = hdr(p)
        key = (p['stream'], first(p['f'], 'smb.mid'), cmd)
        if not rsp:
            reqs[key] = p
            if cmd == 0xA2:
                fn = first(p['f'], 'smb.file')
                if fn:
                    fn = fn.lstrip('\\')
                    if fn and fn not in files:
                        files.append(fn)
            if cmd in (0x00, 0x01):  # create / delete directory
                fn = (first(p['f'], 'smb.dir_name') or '').lstrip('\\')
                if fn and fn not in files:
                    files.append(fn)
            continue
        if cmd == 0x75:
            rq = reqs.get(key)
            # the request's own path is the last smb.path (earlier ones are
            # tshark's generated "tree of this TID" fields)
            trees.append({'path': rq['f']['smb.path'][-1] if rq and rq['f'].get('smb.path') else None,
                          'encrypt_data': False, 'status': status_name(st)})
        if st not in ROUTINE and cmd in SMB1_NOTABLE_CMDS:
            n = status_name(st)
            if n not in statuses:
                statuses.append(n)
    obs['trees'] = trees
    obs['files'] = files
    obs['statuses'] = statuses
    obs['unprotected_messages_after_logon'] = None

# --------------------------------------------------------------------------
# expected answers
# --------------------------------------------------------------------------

def parse_value(v):
    if v == 'true':
        return True
    if v == 'false':
        return False
    if v == 'null':
        return None
    return v


def files_from_commands(cmds):
    out = []
    for c in (cmds or '').split(';'):
        w = c.split()
        if not w:
            continue
        if w[0] in ('put', 'mkdir', 'get', 'del', 'rmdir') and len(w) >= 2:
            n = w[1] if w[0] != 'put' or len(w) == 2 else w[2]
            if n not in out:
                out.append(n)
    return out


def build(args):
    d = {}
    for kv in args.expect:
        k, _, v = kv.partition('=')
        d[k] = parse_value(v)
    login = args.login
    host_share = args.target.lstrip('/').split('/')
    tree_path = '\\\\' + '\\'.join(host_share)
    exp = {
        'scenario': args.name,
        'dialect': d.pop('dialect'),
        'client_signing_required': d.pop('client_signing_required', False),
        'server_signing_required': d.pop('server_signing_required', False),
        'signing_algorithm': d.pop('signing_algorithm', None),
        'cipher': d.pop('cipher', None),
        'user': d.pop('user', ''),
        'domain': d.pop('domain', ''),
        'auth': d.pop('auth', {'password': 'ntlmv2', 'anonymous': 'anonymous', 'guest': 'none'}[login]),
        'guest': d.pop('guest', False),
        'anonymous': d.pop('anonymous', login == 'anonymous'),
        'session_encrypt_data': d.pop('session_encrypt_data', False),
    }
    tree_status = d.pop('tree_status', 'STATUS_SUCCESS')
    share_encrypt = d.pop('share_encrypt', False)
    exp['trees'] = [] if tree_status == 'none' else [
        {'path': tree_path, 'encrypt_data': share_encrypt, 'status': tree_status}]
    f = d.pop('files', None)
    exp['files'] = files_from_commands(args.commands) if f is None else [x for x in (f or '').split(',') if x]
    s = d.pop('statuses', '')
    exp['statuses'] = [x for x in (s or '').split(',') if x]
    exp['notes'] = args.desc
    exp['encrypted'] = d.pop('encrypted', False)
    ess = d.pop('ntlm_ess', None)
    if ess is not None:
        exp['ntlm_extended_session_security'] = ess
    exp['signing_everywhere'] = d.pop('signing_everywhere', None)
    if d:
        raise SystemExit('unknown expectation keys: %s' % ', '.join(d))
    return exp


def compare(exp, obs):
    """Return a list of mismatch descriptions."""
    bad = []
    for k in ('dialect', 'client_signing_required', 'server_signing_required', 'signing_algorithm',
              'cipher', 'user', 'domain', 'auth', 'guest', 'anonymous', 'session_encrypt_data', 'encrypted',
              'ntlm_extended_session_security'):
        if k in exp and exp[k] != obs.get(k):
            bad.append('%s: defined %r, capture has %r' % (k, exp[k], obs.get(k)))
    def norm(t):  # share paths are case-insensitive (SMB1 smbclient upper-cases them)
        return dict(t, path=(t['path'] or '').casefold())
    for t in exp['trees']:
        if norm(t) not in [norm(x) for x in obs['trees']]:
            bad.append('tree %r not in capture trees %r' % (t, obs['trees']))
    missing = [x for x in exp['files'] if x not in obs['files']]
    if missing:
        bad.append('files %r not opened in capture (%r)' % (missing, obs['files']))
    if sorted(exp['statuses']) != sorted(obs['statuses']):
        bad.append('statuses: defined %r, capture has %r' % (exp['statuses'], obs['statuses']))
    se = exp.get('signing_everywhere')
    if se is not None:
        got = obs.get('unprotected_messages_after_logon') == 0
        if se != got:
            bad.append('signing_everywhere: defined %r, capture has %r unprotected messages' % (se, obs.get('unprotected_messages_after_logon')))
    for k, v in obs['checks'].items():
        if v is False:
            bad.append('check failed: %s' % k)
        if k in ('tshark_signatures_bad', 'md5_signatures_bad', 'own_signatures_bad', 'own_decrypt_failures') and v:
            bad.append('tshark found %d bad signatures' % v)
    return bad


def assemble(exp, obs, args):
    out = dict(exp)
    se = out.pop('signing_everywhere')
    # Wire facts the definition does not fix: every tree (e.g. smbclient's
    # IPC$ DFS probe) and every opened name, in wire order.
    out['trees'] = obs['trees']
    out['files'] = obs['files']
    out['encrypted'] = obs['encrypted']
    out['negotiated_cipher'] = obs.get('negotiated_cipher')
    out['session_flags'] = obs.get('session_flags')
    out['logon_ok'] = obs.get('logon_ok')
    out['nt_response_len'] = obs.get('nt_response_len')
    out['ntlm_extended_session_security'] = obs.get('ntlm_extended_session_security')
    out['unprotected_messages_after_logon'] = obs.get('unprotected_messages_after_logon')
    if obs.get('smb1_dialect'):
        out['smb1_dialect'] = obs['smb1_dialect']
    if obs.get('netname'):
        out['netname'] = obs['netname']
    out['session_ids'] = obs.get('session_ids', [])
    out['how'] = {
        'client': args.client_command,
        'client_exit_status': int(args.client_rc),
        'server_profile': args.server_profile,
        'server_options': args.server_options or None,
        'keys_file': args.name + '.keys' if args.keys else None,
        'credentials_file': args.name + '.credentials' if args.credentials else None,
    }
    out['capture'] = {
        'frames': obs['frames'],
        'transform_frames': obs['transform_frames'],
        'signed_messages': obs.get('signed_messages'),
        'encrypted_messages': obs.get('encrypted_messages'),
    }
    out['checks'] = obs['checks']
    if obs['warnings']:
        out['warnings'] = obs['warnings']
    return out


COLS = [('scenario', 27), ('dialect', 6), ('csr', 3), ('ssr', 3), ('signing', 12), ('cipher', 11),
        ('user', 7), ('auth', 9), ('G', 1), ('A', 1), ('SE', 2), ('trees: share(E=encrypt)[:status]', 32),
        ('xform', 5), ('sig own', 7), ('sig tsh', 7), ('decrypt', 7), ('pw->key', 7), ('statuses', 14)]


def header():
    return ' '.join(n.ljust(w) for n, w in COLS)


def summary(j):
    t = ','.join('%s(%s)%s' % (x['path'].split('\\')[-1] if x['path'] else '?', 'E' if x['encrypt_data'] else '-',
                               '' if x['status'] == 'STATUS_SUCCESS' else ':' + x['status'].replace('STATUS_', ''))
                 for x in j['trees']) or '-'
    c = j['checks']

    def ratio(good, bad):
        g, b = c.get(good, 0), c.get(bad, 0)
        return '%d/%d' % (g, g + b) if g + b else '-'
    own = ratio('own_signatures_good', 'own_signatures_bad')
    if own == '-':
        own = ratio('md5_signatures_good', 'md5_signatures_bad')
    tsh = ratio('tshark_signatures_good', 'tshark_signatures_bad')
    dec = '-'
    if j['capture']['transform_frames']:
        dec = '%s%s' % ('own' if c.get('own_decrypted_transforms') and not c.get('own_decrypt_failures') else '!',
                        '+ts' if c.get('tshark_decrypted_all_transforms') else '')
    pk = c.get('password_key_equals_dumped_key', c.get('ntlm_proof_matches_password'))
    if c.get('own_kdf_keys_equal_dumped_keys') is False:
        pk = False
    vals = [j['scenario'], j['dialect'], 'Y' if j['client_signing_required'] else '-',
            'Y' if j['server_signing_required'] else '-', j['signing_algorithm'] or '-', j['cipher'] or '-',
            j['user'] or "''", j['auth'] or '-', 'Y' if j['guest'] else '-', 'Y' if j['anonymous'] else '-',
            'Y' if j['session_encrypt_data'] else '-', t, str(j['capture']['transform_frames']), own, tsh, dec,
            {True: 'ok', False: 'BAD', None: '-'}[pk], ','.join(s.replace('STATUS_', '') for s in j['statuses']) or '-']
    return ' '.join(str(v).ljust(w) for v, (_n, w) in zip(vals, COLS))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make')
    m.add_argument('name')
    m.add_argument('--pcap', required=True)
    m.add_argument('--keys')
    m.add_argument('--credentials')
    m.add_argument('--out', required=True)
    m.add_argument('--desc', default='')
    m.add_argument('--login', default='password')
    m.add_argument('--target', required=True)
    m.add_argument('--commands', default='')
    m.add_argument('--client-command', default='')
    m.add_argument('--client-rc', default='0')
    m.add_argument('--server-profile', default='default')
    m.add_argument('--server-options', default='')
    m.add_argument('--expect', action='append', default=[], metavar='KEY=VALUE')
    v = sub.add_parser('verify')
    v.add_argument('json', nargs='+')
    o = sub.add_parser('observe')
    o.add_argument('pcap')
    o.add_argument('--keys')
    o.add_argument('--credentials')
    sub.add_parser('header')
    args = ap.parse_args()

    if args.cmd == 'header':
        print(header())
        return 0
    if args.cmd == 'observe':
        print(json.dumps(observe(args.pcap, args.keys, args.credentials), indent=2, ensure_ascii=False))
        return 0
    if args.cmd == 'make':
        exp = build(args)
        obs = observe(args.pcap, args.keys, args.credentials)
        bad = compare(exp, obs)
        if bad:
            print('%s: capture disagrees with the scenario definition:' % args.name, file=sys.stderr)
            for b in bad:
                print('  - ' + b, file=sys.stderr)
            print(json.dumps(obs, indent=1, ensure_ascii=False), file=sys.stderr)
            return 1
        out = assemble(exp, obs, args)
        with open(args.out, 'w', encoding='utf-8') as fh:
            json.dump(out, fh, indent=2, ensure_ascii=False)
            fh.write('\n')
        print(summary(out))
        return 0
    if args.cmd == 'verify':
        rc = 0
        print(header())
        for jp in args.json:
            j = json.load(open(jp, encoding='utf-8'))
            base = jp[:-len('.expected.json')]
            keys = base + '.keys' if os.path.exists(base + '.keys') else None
            cred = base + '.credentials' if os.path.exists(base + '.credentials') else None
            obs = observe(base + '.pcap', keys, cred)
            exp = dict(j)
            exp['signing_everywhere'] = None
            bad = compare(exp, obs)
            for k in ('trees', 'files'):
                if j[k] != obs[k]:
                    bad.append('%s: stored %r, capture has %r' % (k, j[k], obs[k]))
            if bad:
                rc = 1
                print('%s: MISMATCH' % j['scenario'])
                for b in bad:
                    print('  - ' + b)
            else:
                print(summary(dict(j, checks=obs['checks'])))
        return rc


if __name__ == '__main__':
    sys.exit(main())
