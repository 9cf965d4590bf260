#!/usr/bin/env python3
"""Cross-check an SMB-over-QUIC capture with tshark and write its expected answers.

Used by captures/generate-quic.sh; needs python3, tshark and openssl (no smbscope).

  check_quic.py make PCAP --name N --keylog-dir ... [options]   (see generate-quic.sh)
      Observe PCAP (with <base>.keylog, <base>.keys, <base>.credentials beside it),
      compare with the scenario definition (--expect k=v, --dial, --target, ...),
      fail (exit 1) on any disagreement, write --out and print one summary line.
  check_quic.py verify J [J ...]
      Re-observe the capture beside each <name>.expected.json and compare the
      facts with the stored ones.
  check_quic.py observe PCAP
      Print everything observed, as JSON.

The SMB part reuses check_capture.py (the TCP captures' checker) with the TLS key
log added to every tshark call, so the same NTLM, key-derivation, signature and
decryption cross-checks run on the SMB messages inside QUIC. Its "own" checks
read the SMB byte stream that tshark reassembles from QUIC stream 0
(`-z follow,quic,raw,<conn>,0`).
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_capture as cc  # noqa: E402

QUIC_PORT = 443
TLS_SUITES = {0x1301: 'TLS_AES_128_GCM_SHA256', 0x1302: 'TLS_AES_256_GCM_SHA384',
              0x1303: 'TLS_CHACHA20_POLY1305_SHA256'}
LONG_TYPES = {0: 'initial', 1: '0rtt', 2: 'handshake', 3: 'retry'}
SMB2_CMDS = ['NEGOTIATE', 'SESSION_SETUP', 'LOGOFF', 'TREE_CONNECT', 'TREE_DISCONNECT', 'CREATE', 'CLOSE',
             'FLUSH', 'READ', 'WRITE', 'LOCK', 'IOCTL', 'CANCEL', 'ECHO', 'QUERY_DIRECTORY', 'CHANGE_NOTIFY',
             'QUERY_INFO', 'SET_INFO', 'OPLOCK_BREAK']
NEGOTIATE_CONTEXTS = {1: 'PREAUTH_INTEGRITY_CAPABILITIES', 2: 'ENCRYPTION_CAPABILITIES',
                      3: 'COMPRESSION_CAPABILITIES', 5: 'NETNAME_NEGOTIATE_CONTEXT_ID',
                      6: 'TRANSPORT_CAPABILITIES', 7: 'RDMA_TRANSFORM_CAPABILITIES',
                      8: 'SIGNING_CAPABILITIES'}

# --------------------------------------------------------------------------
# tshark with the TLS key log; QUIC streams for check_capture's own checks
# --------------------------------------------------------------------------

KEYLOG = None
_tshark_json = cc.tshark_json
_pcap_connections = cc.pcap_connections


def tshark_json_with_keylog(pcap, opts):
    return _tshark_json(pcap, list(opts) + (['tls.keylog_file:' + KEYLOG] if KEYLOG else []))


def pcap_connections_or_quic(path):
    conns = _pcap_connections(path)
    if conns:
        return conns
    return {k: v for k, v in quic_streams(path).items()}


cc.tshark_json = tshark_json_with_keylog
cc.pcap_connections = pcap_connections_or_quic


def tshark(args, opts=()):
    cmd = ['tshark', '-n'] + list(args)
    for o in list(opts) + (['tls.keylog_file:' + KEYLOG] if KEYLOG else []):
        cmd += ['-o', o]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit('tshark failed: %s\n%s' % (' '.join(cmd), r.stderr.strip()))
    return r.stdout


def fields(pcap, flt, names):
    """One dict per frame: name -> list of values (every occurrence)."""
    args = ['-r', pcap, '-Y', flt, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|',
            '-E', 'separator=\t']
    for n in names:
        args += ['-e', n]
    rows = []
    for line in tshark(args).splitlines():
        cols = line.split('\t')
        cols += [''] * (len(names) - len(cols))
        rows.append({n: [x for x in c.split('|') if x != ''] for n, c in zip(names, cols)})
    return rows


def quic_streams(pcap, stream=0):
    """{((client ip bytes, port), (server ip bytes, port)): {'c2s': bytes, 's2c': bytes}} for every
    QUIC connection's stream `stream`, as tshark reassembles it (key log needed)."""
    conns = {}
    numbers = sorted({int(n) for r in fields(pcap, 'quic', ['quic.connection.number'])
                      for n in r['quic.connection.number']})
    for num in numbers:
        out = tshark(['-r', pcap, '-q', '-z', 'follow,quic,raw,%d,%d' % (num, stream)])
        nodes, c2s, s2c, body = {}, bytearray(), bytearray(), False
        for line in out.splitlines():
            m = re.match(r'^Node ([01]): (.*):(\d+)$', line)
            if m:
                nodes[m.group(1)] = (m.group(2), int(m.group(3)))
                body = m.group(1) == '1'
                continue
            if not body or line.startswith('='):
                continue
            if line.startswith('\t'):
                s2c += bytes.fromhex(line.strip())
            elif line.strip():
                c2s += bytes.fromhex(line.strip())
        if '0' in nodes and '1' in nodes:
            ip = lambda a: bytes(int(x) for x in a.split('.'))  # noqa: E731
            key = ((ip(nodes['0'][0]), nodes['0'][1]), (ip(nodes['1'][0]), nodes['1'][1]))
            conns[key] = {'c2s': bytes(c2s), 's2c': bytes(s2c)}
    return conns


def split_pcap(pcap, flt, out):
    tshark(['-r', pcap, '-Y', flt, '-F', 'pcap', '-w', out])
    return out


def split_keys(path):
    """smbclient key dumps -> one text block per session (in file order)."""
    if not path or not os.path.exists(path):
        return []
    blocks, cur = [], None
    for line in open(path, encoding='utf-8'):
        if line.startswith('debug encryption:'):
            cur = []
            blocks.append(cur)
        if cur is None:
            cur = []
            blocks.append(cur)
        cur.append(line)
    return [''.join(b) for b in blocks]

# --------------------------------------------------------------------------
# QUIC / TLS / certificate observation
# --------------------------------------------------------------------------


def addr(ip, port):
    return '%s:%s' % (ip, port)


def utc_iso(s):
    """'2027-11-22 00:00:00 (UTC)' (tshark) -> '2027-11-22T00:00:00Z'."""
    m = re.match(r'^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)', s)
    return '%sT%sZ' % (m.group(1), m.group(2)) if m else s


def openssl_cert(der):
    r = subprocess.run(['openssl', 'x509', '-inform', 'der', '-noout', '-subject', '-dates',
                        '-ext', 'subjectAltName', '-nameopt', 'RFC2253'],
                       input=der, capture_output=True, check=True)
    text = r.stdout.decode()
    out = {'dns_names': re.findall(r'DNS:([^,\s]+)', text),
           'ip_addresses': re.findall(r'IP Address:([^,\s]+)', text)}
    for k in ('notBefore', 'notAfter'):
        m = re.search(r'^%s=(.*)$' % k, text, re.M)
        out[k] = datetime.datetime.strptime(m.group(1), '%b %d %H:%M:%S %Y GMT').strftime('%Y-%m-%dT%H:%M:%SZ')
    m = re.search(r'^subject=(.*)$', text, re.M)
    out['subject'] = m.group(1).strip() if m else None
    return out


def pem_to_der(path):
    text = open(path).read()
    m = re.search(r'-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----', text, re.S)
    return base64.b64decode(''.join(m.group(1).split()))


def observe_quic(pcap):
    obs = {'checks': {}}
    udp = fields(pcap, 'udp', ['frame.number', 'ip.src', 'udp.srcport', 'ip.dst', 'udp.dstport',
                               'quic.header_form', 'quic.version', 'quic.long.packet_type', 'quic.fixed_bit',
                               'quic.connection.number', 'quic.stream.stream_id', 'quic.frame_type',
                               'quic.dcid', 'quic.nci.connection_id', 'smb2.cmd'])
    obs['udp_datagrams'] = len(udp)
    server = None
    conns = {}
    counts = {'initial': 0, 'handshake': 0, '0rtt': 0, 'retry': 0, '1rtt': 0}
    versions, fixed, stream_ids, ports_ok = set(), set(), set(), True
    smb_by_client = {}
    path_frames = {'path_challenge': 0, 'path_response': 0, 'new_connection_id': 0,
                   'retire_connection_id': 0}
    # Connection IDs announced in NEW_CONNECTION_ID frames by each side, and the DCIDs of the
    # short headers each side sent: a side that sends to an ID only the other side's encrypted
    # frames announced is what a keyless observer cannot follow by ID.
    announced = {True: set(), False: set()}
    short_dcids = {True: [], False: []}
    for r in udp:
        sp, dp = int(r['udp.srcport'][0]), int(r['udp.dstport'][0])
        up = dp == QUIC_PORT
        announced[up].update(r['quic.nci.connection_id'])
        for form, dcid in zip(r['quic.header_form'], r['quic.dcid']):
            if form == '0' and dcid not in short_dcids[up]:
                short_dcids[up].append(dcid)
    for r in udp:
        sp, dp = int(r['udp.srcport'][0]), int(r['udp.dstport'][0])
        if QUIC_PORT not in (sp, dp):
            ports_ok = False
        to_server = dp == QUIC_PORT
        srv = addr(r['ip.dst'][0], dp) if to_server else addr(r['ip.src'][0], sp)
        cli = addr(r['ip.src'][0], sp) if to_server else addr(r['ip.dst'][0], dp)
        server = server or srv
        num = r['quic.connection.number'][0] if r['quic.connection.number'] else '?'
        c = conns.setdefault(num, {'client_addresses': [], 'server': srv})
        if cli not in c['client_addresses']:
            c['client_addresses'].append(cli)
        forms = r['quic.header_form']
        types = iter(r['quic.long.packet_type'])
        for f in forms:
            if f == '1':
                counts[LONG_TYPES.get(int(next(types, '0'), 0), 'other')] += 1
            else:
                counts['1rtt'] += 1
        versions.update(int(v, 16) for v in r['quic.version'])
        fixed.update(r['quic.fixed_bit'])
        stream_ids.update(int(s) for s in r['quic.stream.stream_id'])
        for t in r['quic.frame_type']:
            t = int(t, 0)
            name = {0x1a: 'path_challenge', 0x1b: 'path_response', 0x18: 'new_connection_id',
                    0x19: 'retire_connection_id'}.get(t)
            if name:
                path_frames[name] += 1
        if r['smb2.cmd']:
            s = smb_by_client.setdefault(cli, {'frames': 0, 'commands': []})
            s['frames'] += 1
            for cmd in r['smb2.cmd']:
                n = SMB2_CMDS[int(cmd)] if int(cmd) < len(SMB2_CMDS) else cmd
                if n not in s['commands']:
                    s['commands'].append(n)
    obs['server'] = server
    obs['connections'] = conns
    obs['packets'] = counts
    obs['versions'] = ['0x%08x' % v for v in sorted(versions)]
    obs['fixed_bit_always_set'] = fixed == {'1'}
    obs['stream_ids'] = sorted(stream_ids)
    obs['path_frames'] = path_frames
    obs['connection_ids'] = {
        'announced_by_client': len(announced[True]),
        'announced_by_server': len(announced[False]),
        'server_short_header_dcids': len(short_dcids[False]),
        'server_sent_to_client_announced': sum(d in announced[True] for d in short_dcids[False]),
        'client_short_header_dcids': len(short_dcids[True]),
        'client_sent_to_server_announced': sum(d in announced[False] for d in short_dcids[True]),
    }
    obs['smb2_by_client_address'] = smb_by_client
    obs['checks']['udp_port_443'] = ports_ok and bool(udp)
    obs['checks']['quic_v1_only'] = versions == {1}
    obs['checks']['quic_fixed_bit_set'] = obs['fixed_bit_always_set']

    # TLS: ClientHello (type 1), ServerHello (2), EncryptedExtensions (8), Certificate (11).
    ch = fields(pcap, 'tls.handshake.type == 1', ['tls.handshake.extensions_server_name',
                                                  'tls.handshake.extensions_alpn_str'])
    obs['client_hellos'] = len(ch)
    obs['sni'] = ch[0]['tls.handshake.extensions_server_name'][0] \
        if ch and ch[0]['tls.handshake.extensions_server_name'] else None
    obs['alpn'] = ch[0]['tls.handshake.extensions_alpn_str'] if ch else []
    sh = fields(pcap, 'tls.handshake.type == 2', ['tls.handshake.ciphersuite',
                                                  'tls.handshake.extensions.supported_version'])
    obs['tls_version'] = {'0x0304': 'TLS 1.3'}.get(sh[0]['tls.handshake.extensions.supported_version'][0]
                                                    if sh and sh[0]['tls.handshake.extensions.supported_version']
                                                    else '', None)
    suite = int(sh[0]['tls.handshake.ciphersuite'][0], 16) if sh and sh[0]['tls.handshake.ciphersuite'] else None
    obs['tls_cipher_suite'] = TLS_SUITES.get(suite, suite)
    ee = fields(pcap, 'tls.handshake.type == 8', ['tls.handshake.extensions_alpn_str'])
    obs['alpn_selected'] = ee[0]['tls.handshake.extensions_alpn_str'][0] \
        if ee and ee[0]['tls.handshake.extensions_alpn_str'] else None
    obs['checks']['tls_handshake_decrypted'] = bool(ee)
    crt = fields(pcap, 'tls.handshake.type == 11', ['tls.handshake.certificate', 'x509ce.dNSName',
                                                    'x509ce.IPAddress.ipv4', 'x509ce.IPAddress.ipv6',
                                                    'x509af.utcTime', 'x509af.generalizedTime',
                                                    'x509sat.uTF8String'])
    obs['cert'] = None
    if crt and crt[0]['tls.handshake.certificate']:
        r = crt[0]
        der = cc.unhex(r['tls.handshake.certificate'][0])
        times = [utc_iso(t) for t in r['x509af.utcTime'] + r['x509af.generalizedTime']]
        ossl = openssl_cert(der)
        obs['cert'] = {
            'subject': ossl['subject'],
            'dns_names': r['x509ce.dNSName'],
            'ip_addresses': r['x509ce.IPAddress.ipv4'] + r['x509ce.IPAddress.ipv6'],
            'sha1': hashlib.sha1(der).hexdigest(),
            'sha256': hashlib.sha256(der).hexdigest(),
            'not_before': ossl['notBefore'],
            'not_after': ossl['notAfter'],
            'chain_length': len(r['tls.handshake.certificate']),
        }
        obs['cert_der'] = der
        obs['checks']['cert_tshark_equals_openssl'] = (
            ossl['dns_names'] == r['x509ce.dNSName']
            and ossl['ip_addresses'] == obs['cert']['ip_addresses']
            and len(times) >= 2 and times[0] == ossl['notBefore'] and times[1] == ossl['notAfter'])
    return obs


def observe_tcp445(pcap):
    rows = fields(pcap, 'tcp.port == 445 and tcp.flags.syn == 1 and tcp.flags.ack == 0',
                  ['ip.src', 'tcp.srcport', 'ip.dst', 'tcp.dstport'])
    return [{'client': addr(r['ip.src'][0], r['tcp.srcport'][0]),
             'server': addr(r['ip.dst'][0], r['tcp.dstport'][0])} for r in rows]

# --------------------------------------------------------------------------
# everything
# --------------------------------------------------------------------------


SMB_FACTS = ('dialect', 'user', 'domain', 'auth', 'guest', 'anonymous', 'client_signing_required',
             'server_signing_required', 'signing_algorithm', 'cipher', 'encrypted', 'negotiated_cipher',
             'session_flags', 'session_encrypt_data', 'logon_ok', 'netname', 'trees', 'files', 'statuses',
             'session_ids', 'unprotected_messages_after_logon', 'signed_messages', 'encrypted_messages',
             'transform_frames', 'nt_response_len')


def smb_facts(obs, contexts):
    out = {k: obs.get(k) for k in SMB_FACTS}
    out['negotiate_contexts'] = contexts
    out['transport_capabilities_context'] = 'TRANSPORT_CAPABILITIES' in contexts
    return out


def negotiate_contexts(pcap):
    rows = fields(pcap, 'smb2.cmd == 0 and smb2.flags.response == 0', ['smb2.negotiate_context.type'])
    types = rows[0]['smb2.negotiate_context.type'] if rows else []
    return [NEGOTIATE_CONTEXTS.get(int(t, 0), t) for t in types]


def stream_messages(streams):
    """SMB2 messages in the first connection's stream 0, from the bytes tshark reassembles:
    tshark 4.0.17 does not dissect a message that spans several QUIC packets (the 3 KB WRITE
    request and READ response), so its own counts above are lower."""
    out = {'total': 0, 'signed': 0, 'transform': 0, 'compressed': 0}
    for v in list(streams.values())[:1]:
        for d in ('c2s', 's2c'):
            for raw in cc.nbss_messages(v[d]):
                if raw[:4] == b'\xfdSMB':
                    out['transform'] += 1
                    out['total'] += 1
                elif raw[:4] == b'\xfcSMB':
                    out['compressed'] += 1
                    out['total'] += 1
                elif raw[:4] == b'\xfeSMB':
                    for m in cc.split_compound(raw):
                        out['total'] += 1
                        out['signed'] += bool(m[16] & 0x8)
    return out


def observe(pcap, keylog, keys=None, cred=None):
    """All facts of one scenario capture."""
    global KEYLOG
    KEYLOG = keylog
    tmp = tempfile.mkdtemp(prefix='check-quic-')
    try:
        quic_pcap = split_pcap(pcap, 'udp', os.path.join(tmp, 'quic.pcap'))
        tcp_pcap = split_pcap(pcap, 'tcp', os.path.join(tmp, 'tcp.pcap'))
        blocks = split_keys(keys)
        qkeys = tkeys = None
        if blocks:
            qkeys = os.path.join(tmp, 'quic.keys')
            open(qkeys, 'w').write(blocks[0])
        if len(blocks) > 1:
            tkeys = os.path.join(tmp, 'tcp.keys')
            open(tkeys, 'w').write(blocks[1])
        frames = len(fields(pcap, 'frame', ['frame.number']))
        q = observe_quic(quic_pcap)
        q['frames'] = frames
        smb = cc.observe(quic_pcap, qkeys, cred)
        q['smb'] = smb_facts(smb, negotiate_contexts(quic_pcap))
        q['checks'].update(smb['checks'])
        q['warnings'] = list(smb['warnings'])
        streams = quic_streams(quic_pcap)
        q['stream_bytes'] = [{'c2s': len(v['c2s']), 's2c': len(v['s2c'])} for v in streams.values()]
        q['smb']['stream_messages'] = stream_messages(streams)
        # The stream must be exactly Direct-TCP framing: 4-byte headers, whole SMB2 messages.
        ok = bool(streams)
        for v in streams.values():
            for d in ('c2s', 's2c'):
                b, i, n = v[d], 0, 0
                while i + 4 <= len(b):
                    if b[i] != 0 or b[i + 4:i + 5] not in (b'\xfe', b'\xfd', b'\xfc'):
                        ok = False
                        break
                    i += 4 + int.from_bytes(b[i + 1:i + 4], 'big')
                    n += 1
                ok = ok and i == len(b) and n > 0
        q['checks']['quic_stream_is_direct_tcp_framing'] = ok
        tcp_frames = len(fields(tcp_pcap, 'frame', ['frame.number']))
        q['tcp_frames'] = tcp_frames
        q['tcp445'] = None
        if tcp_frames:
            KEYLOG = None
            t = cc.observe(tcp_pcap, tkeys, cred)
            conns = observe_tcp445(tcp_pcap)
            q['tcp445'] = {'connections': conns, 'smb': smb_facts(t, negotiate_contexts(tcp_pcap)),
                           'frames': tcp_frames}
            q['checks'].update({'tcp445_' + k: v for k, v in t['checks'].items()})
            q['warnings'] += ['tcp445: ' + w for w in t['warnings']]
            KEYLOG = keylog
        return q
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)

# --------------------------------------------------------------------------
# expected answers
# --------------------------------------------------------------------------

QUIC_KEYS = ('sni', 'migrated', 'cert_ip', 'tcp445', 'cid_rotation')


def is_ip(s):
    return bool(re.match(r'^\d+\.\d+\.\d+\.\d+$', s or ''))


def relay_log_facts(client_log, server_log):
    f = {}
    if client_log and os.path.exists(client_log):
        t = open(client_log).read()
        m = re.search(r'session done, (\d+) bytes up, (\d+) bytes down', t)
        if m:
            f['relayed'] = {'c2s': int(m.group(1)), 's2c': int(m.group(2))}
        m = re.search(r'migrated from (\S+) to (\S+)', t)
        if m:
            f['client_migrated'] = [m.group(1), m.group(2)]
        m = re.search(r'connected (\S+) -> (\S+)', t)
        if m:
            f['client_local'] = m.group(1)
    if server_log and os.path.exists(server_log):
        t = open(server_log).read()
        m = re.search(r'client migrated from (\S+) to (\S+)', t)
        if m:
            f['server_saw_migration'] = [m.group(1), m.group(2)]
    return f


def make(args):
    quic_exp, smb_kv = {}, []
    for kv in args.expect:
        k, _, v = kv.partition('=')
        if k in QUIC_KEYS:
            quic_exp[k] = cc.parse_value(v)
        else:
            smb_kv.append(kv)
    if args.login == 'password':
        smb_kv = ['user=' + args.user, 'domain=' + args.domain] + smb_kv
    ns = argparse.Namespace(name=args.name, expect=smb_kv, login=args.login, target=args.target,
                            commands=args.commands, desc=args.desc)
    smb_exp = cc.build(ns)
    base = args.pcap[:-len('.pcap')]
    keys = base + '.keys' if os.path.exists(base + '.keys') else None
    cred = base + '.credentials' if os.path.exists(base + '.credentials') else None
    obs = observe(args.pcap, base + '.keylog', keys, cred)
    logs = relay_log_facts(args.relay_client_log, args.relay_server_log)

    bad = []
    # ---- QUIC and TLS ----
    conns = obs['connections']
    if len(conns) != 1:
        bad.append('expected one QUIC connection, capture has %r' % list(conns))
    conn = next(iter(conns.values())) if conns else {'client_addresses': [], 'server': None}
    sni = quic_exp.get('sni', None if is_ip(args.dial) else args.dial)
    if obs['sni'] != sni:
        bad.append('sni: defined %r, capture has %r' % (sni, obs['sni']))
    if obs['alpn'] != ['smb'] or obs['alpn_selected'] != 'smb':
        bad.append('ALPN: offered %r, selected %r (want smb)' % (obs['alpn'], obs['alpn_selected']))
    if obs['server'] != '127.0.0.1:%d' % QUIC_PORT:
        bad.append('server %r' % obs['server'])
    if obs['stream_ids'] != [0]:
        bad.append('QUIC stream ids %r (want only 0)' % obs['stream_ids'])
    if obs['tls_version'] != 'TLS 1.3':
        bad.append('TLS version %r' % obs['tls_version'])
    migrated = quic_exp.get('migrated', False)
    got_migrated = len(conn['client_addresses']) > 1
    if got_migrated != migrated:
        bad.append('migrated: defined %r, capture has client addresses %r' % (migrated, conn['client_addresses']))
    if migrated:
        hosts = {a.rsplit(':', 1)[0] for a in conn['client_addresses']}
        if len(hosts) < 2:
            bad.append('migration did not change the client IP: %r' % conn['client_addresses'])
        after = obs['smb2_by_client_address'].get(conn['client_addresses'][-1], {})
        if 'CREATE' not in after.get('commands', []):
            bad.append('no SMB2 CREATE after the migration: %r' % obs['smb2_by_client_address'])
        obs['checks']['smb_continues_after_migration'] = 'CREATE' in after.get('commands', [])
        obs['checks']['path_validated'] = (obs['path_frames']['path_challenge'] > 0
                                           and obs['path_frames']['path_response'] > 0)
        if 'client_migrated' in logs:
            obs['checks']['relay_log_migration_matches_capture'] = (
                logs['client_migrated'][1] == conn['client_addresses'][-1]
                and logs.get('server_saw_migration', [None, None])[1] == conn['client_addresses'][-1])
    if quic_exp.get('cid_rotation', False):
        ids = obs['connection_ids']
        obs['checks']['server_switched_to_client_announced_ids'] = ids['server_sent_to_client_announced'] >= 2
        if ids['server_sent_to_client_announced'] < 2:
            bad.append('the server sent to %d client-announced connection IDs (want at least 2): %r'
                       % (ids['server_sent_to_client_announced'], ids))
    if 'relayed' in logs and obs['stream_bytes']:
        obs['checks']['quic_stream_bytes_equal_relayed_bytes'] = obs['stream_bytes'][0] == logs['relayed']
    cert = obs['cert']
    if cert is None:
        bad.append('no server certificate seen (key log not applied?)')
    else:
        want_ip = quic_exp.get('cert_ip', False)
        want = ([], ['127.0.0.1']) if want_ip else ([args.cert_name], [])
        if (cert['dns_names'], cert['ip_addresses']) != want:
            bad.append('certificate names %r/%r, want %r' % (cert['dns_names'], cert['ip_addresses'], want))
        if args.cert:
            obs['checks']['cert_equals_relay_server_cert'] = obs.pop('cert_der') == pem_to_der(args.cert)
    obs.pop('cert_der', None)
    # ---- SMB inside QUIC ----
    smb_bad = cc.compare(smb_exp, dict(obs['smb'], checks={}))
    bad += ['smb: ' + b for b in smb_bad]
    # ---- direct TCP/445 ----
    want_tcp = quic_exp.get('tcp445', False)
    if want_tcp != (obs['tcp445'] is not None):
        bad.append('tcp445: defined %r, capture has %d TCP frames' % (want_tcp, obs['tcp_frames']))
    if obs['tcp445']:
        t_exp = dict(smb_exp, trees=[{'path': '\\\\127.0.0.1\\data', 'encrypt_data': False,
                                      'status': 'STATUS_SUCCESS'}])
        bad += ['tcp445 smb: ' + b for b in cc.compare(t_exp, dict(obs['tcp445']['smb'], checks={}))]
        if len(obs['tcp445']['connections']) != 1:
            bad.append('tcp445: %d TCP connections' % len(obs['tcp445']['connections']))
    for k, v in obs['checks'].items():
        if v is False:
            bad.append('check failed: %s' % k)
        if re.search(r'(signatures_bad|decrypt_failures)$', k) and v:
            bad.append('check %s = %r' % (k, v))
    if bad:
        print('%s: capture disagrees with the scenario definition:' % args.name, file=sys.stderr)
        for b in bad:
            print('  - ' + b, file=sys.stderr)
        print(json.dumps(obs, indent=1, ensure_ascii=False, default=str), file=sys.stderr)
        return 1

    out = assemble(args.name, args.desc, obs)
    out['how'] = {
        'client': args.client_command,
        'relay_client': args.relay_client_command,
        'relay_server': args.relay_server_command,
        'relay_server_forwards_to': args.forward,
        'tcp445_client': args.tcp_command,
        'keylog_file': args.name + '.keylog',
        'keys_file': os.path.basename(keys) if keys else None,
        'credentials_file': os.path.basename(cred) if cred else None,
    }
    with open(args.out, 'w', encoding='utf-8') as fh:
        json.dump(out, fh, indent=2, ensure_ascii=False)
        fh.write('\n')
    print(summary(out))
    return 0


def assemble(name, desc, obs):
    conn = next(iter(obs['connections'].values()))
    return {
        'scenario': name,
        'description': desc,
        'transport': 'QUIC',
        'quic_version': obs['versions'][0] if len(obs['versions']) == 1 else obs['versions'],
        'sni': obs['sni'],
        'alpn': obs['alpn'],
        'alpn_selected': obs['alpn_selected'],
        'tls_version': obs['tls_version'],
        'tls_cipher_suite': obs['tls_cipher_suite'],
        'server': obs['server'],
        'client_addresses': conn['client_addresses'],
        'migrated': len(conn['client_addresses']) > 1,
        'quic_connections': len(obs['connections']),
        'quic_stream_ids': obs['stream_ids'],
        'cert': obs['cert'],
        'smb': obs['smb'],
        'tcp445': obs['tcp445'],
        'capture': {
            'frames': obs['frames'],
            'udp_datagrams': obs['udp_datagrams'],
            'tcp_frames': obs['tcp_frames'],
            'quic_packets': obs['packets'],
            'quic_fixed_bit_always_set': obs['fixed_bit_always_set'],
            'path_frames': obs['path_frames'],
            'connection_ids': obs['connection_ids'],
            'stream_bytes': obs['stream_bytes'][0] if obs['stream_bytes'] else None,
            'smb2_by_client_address': obs['smb2_by_client_address'],
        },
        'checks': obs['checks'],
        **({'warnings': obs['warnings']} if obs['warnings'] else {}),
    }


COLS = [('scenario', 22), ('sni', 20), ('alpn', 4), ('client addresses', 34), ('cert names', 20),
        ('dialect', 6), ('user', 7), ('G', 1), ('signing', 12), ('cipher', 11), ('trees', 16),
        ('sig own', 7), ('decrypt', 7), ('tcp445', 6)]


def header():
    return ' '.join(n.ljust(w) for n, w in COLS)


def summary(j):
    s, c = j['smb'], j['checks']
    g, b = c.get('own_signatures_good', 0), c.get('own_signatures_bad', 0)
    dec = '-'
    if s['transform_frames']:
        dec = ('own' if c.get('own_decrypted_transforms') and not c.get('own_decrypt_failures') else '!') + \
              ('+ts' if c.get('tshark_decrypted_all_transforms') else '')
    vals = [j['scenario'], j['sni'] or '(none)', ','.join(j['alpn']), ' '.join(j['client_addresses']),
            ','.join(j['cert']['dns_names'] + j['cert']['ip_addresses']), s['dialect'], s['user'] or "''",
            'Y' if s['guest'] else '-', s['signing_algorithm'] or '-', s['cipher'] or '-',
            ','.join(t['path'].split('\\')[-1] for t in s['trees']), '%d/%d' % (g, g + b) if g + b else '-',
            dec, 'yes' if j['tcp445'] else '-']
    return ' '.join(str(v).ljust(w) for v, (_n, w) in zip(vals, COLS))


def verify(paths):
    rc = 0
    print(header())
    for jp in paths:
        j = json.load(open(jp, encoding='utf-8'))
        base = jp[:-len('.expected.json')]
        keys = base + '.keys' if os.path.exists(base + '.keys') else None
        cred = base + '.credentials' if os.path.exists(base + '.credentials') else None
        obs = observe(base + '.pcap', base + '.keylog', keys, cred)
        obs.pop('cert_der', None)
        now = assemble(j['scenario'], j['description'], obs)
        bad = []
        for k in now:
            if k in ('checks', 'warnings'):
                continue
            if json.dumps(now[k], sort_keys=True) != json.dumps(j.get(k), sort_keys=True):
                bad.append('%s: stored %s, capture has %s' % (k, json.dumps(j.get(k)), json.dumps(now[k])))
        for k, v in obs['checks'].items():
            if v is False:
                bad.append('check failed: %s' % k)
        if bad:
            rc = 1
            print('%s: MISMATCH' % j['scenario'])
            for b in bad:
                print('  - ' + b)
        else:
            print(summary(now))
    return rc


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make')
    m.add_argument('pcap')
    m.add_argument('--name', required=True)
    m.add_argument('--desc', default='')
    m.add_argument('--login', default='password')
    m.add_argument('--user', default='')
    m.add_argument('--domain', default='SMBSCOPE')
    m.add_argument('--target', required=True)
    m.add_argument('--dial', required=True, help='the relay client --server-name')
    m.add_argument('--cert-name', default='files.smbscope.test')
    m.add_argument('--cert', help="the relay server's certificate (PEM)")
    m.add_argument('--forward', default='')
    m.add_argument('--relay-client-log')
    m.add_argument('--relay-server-log')
    m.add_argument('--client-command', default='')
    m.add_argument('--relay-client-command', default='')
    m.add_argument('--relay-server-command', default='')
    m.add_argument('--tcp-command')
    m.add_argument('--commands', default='')
    m.add_argument('--out', required=True)
    m.add_argument('--expect', action='append', default=[], metavar='KEY=VALUE')
    v = sub.add_parser('verify')
    v.add_argument('json', nargs='+')
    o = sub.add_parser('observe')
    o.add_argument('pcap')
    sub.add_parser('header')
    args = ap.parse_args()
    if args.cmd == 'header':
        print(header())
        return 0
    if args.cmd == 'observe':
        base = args.pcap[:-len('.pcap')]
        obs = observe(args.pcap, base + '.keylog',
                      base + '.keys' if os.path.exists(base + '.keys') else None,
                      base + '.credentials' if os.path.exists(base + '.credentials') else None)
        obs.pop('cert_der', None)
        print(json.dumps(obs, indent=2, ensure_ascii=False))
        return 0
    if args.cmd == 'make':
        return make(args)
    return verify(args.json)


if __name__ == '__main__':
    sys.exit(main())
