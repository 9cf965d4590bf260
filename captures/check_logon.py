#!/usr/bin/env python3
"""Cross-check a logon-attack capture with tshark and write its expected JSON.

Used by captures/generate-logon.sh; needs only python3 and tshark (no
smbscope, no third-party modules).

  check_logon.py make NAME --pcap P --def D --out O [--desc ..] [--server-profile ..]
                 [--server-options ..] [--versions JSON]
      D is the scenario definition the generator wrote while it ran the
      scenario (tab-separated lines, see read_definition).  The capture is
      read with tshark; every fact the definition states must equal what the
      capture shows, or the command fails (exit 1) and writes nothing.
  check_logon.py verify captures/logon/*.expected.json
      Re-read each capture and compare it with the stored file.
  check_logon.py observe P
      Print what the capture shows (JSON).

See captures/logon/README.md.
"""
import argparse
import json
import os
import struct
import subprocess
import sys

STATUS = {
    0x00000000: 'STATUS_SUCCESS', 0x00000103: 'STATUS_PENDING',
    0x80000005: 'STATUS_BUFFER_OVERFLOW', 0x80000006: 'STATUS_NO_MORE_FILES',
    0xC0000016: 'STATUS_MORE_PROCESSING_REQUIRED', 0xC0000022: 'STATUS_ACCESS_DENIED',
    0xC0000034: 'STATUS_OBJECT_NAME_NOT_FOUND', 0xC000006D: 'STATUS_LOGON_FAILURE',
    0xC000006E: 'STATUS_ACCOUNT_RESTRICTION', 0xC000006F: 'STATUS_INVALID_LOGON_HOURS',
    0xC0000070: 'STATUS_INVALID_WORKSTATION', 0xC0000071: 'STATUS_PASSWORD_EXPIRED',
    0xC0000072: 'STATUS_ACCOUNT_DISABLED', 0xC0000064: 'STATUS_NO_SUCH_USER',
    0xC0000193: 'STATUS_ACCOUNT_EXPIRED', 0xC0000224: 'STATUS_PASSWORD_MUST_CHANGE',
    0xC0000234: 'STATUS_ACCOUNT_LOCKED_OUT', 0xC000015B: 'STATUS_LOGON_TYPE_NOT_GRANTED',
    0xC00000CC: 'STATUS_BAD_NETWORK_NAME', 0xC0000225: 'STATUS_NOT_FOUND',
    0xC00000BB: 'STATUS_NOT_SUPPORTED', 0xC000000D: 'STATUS_INVALID_PARAMETER',
    0xC0000203: 'STATUS_USER_SESSION_DELETED',
}
MORE_PROCESSING = 0xC0000016
PENDING = 0x00000103
# DCE/RPC PDU types (C706 / MS-RPCE)
PKT_REQUEST, PKT_RESPONSE, PKT_FAULT, PKT_BIND, PKT_BIND_ACK, PKT_ALTER, PKT_ALTER_RESP = 0, 2, 3, 11, 12, 14, 15
# Well-known interfaces, only for the readable "interface" name; the UUID
# itself always comes from the BIND on the wire.
INTERFACES = {
    '4b324fc8-1670-01d3-1278-5a47bf6ee188': 'srvsvc',
    '12345778-1234-abcd-ef00-0123456789ac': 'samr',
    '12345778-1234-abcd-ef00-0123456789ab': 'lsarpc',
    '6bffd098-a112-3610-9833-46c3f87e345a': 'wkssvc',
    '12345678-1234-abcd-ef00-01234567cffb': 'netlogon',
}


def status_name(v):
    return STATUS.get(v, '0x%08X' % v)


def as_int(v, default=None):
    if v is None:
        return default
    if isinstance(v, list):
        v = v[0]
    return int(v, 0)


def unhex(s):
    return bytes.fromhex(s.replace(':', '')) if s else b''


# --------------------------------------------------------------------------
# tshark
# --------------------------------------------------------------------------

def tshark(args):
    r = subprocess.run(['tshark', '-n'] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit('tshark %s failed: %s' % (' '.join(args), r.stderr.strip()))
    return r.stdout


def flatten(node, out):
    """Collect every leaf key -> [values] under node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, list) and all(isinstance(x, str) for x in v):
                out.setdefault(k, []).extend(v)
            elif isinstance(v, (dict, list)):
                flatten(v, out)
            else:
                out.setdefault(k, []).append(v)
    elif isinstance(node, list):
        for x in node:
            flatten(x, out)


def flat(node):
    f = {}
    flatten(node, f)
    return f


def first(f, k, default=None):
    v = f.get(k)
    return v[0] if v else default


def find_dicts(node, key, acc):
    """Every dict that holds `key` (e.g. 'SMB2 Header': one SMB2 message)."""
    if isinstance(node, dict):
        if key in node:
            acc.append(node)
            return
        for v in node.values():
            find_dicts(v, key, acc)
    elif isinstance(node, list):
        for x in node:
            find_dicts(x, key, acc)


def as_list(x):
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def parse_ntlmssp(blob):
    """The NTLMSSP message inside a SPNEGO security blob (MS-NLMP 2.2.1)."""
    i = blob.find(b'NTLMSSP\x00')
    if i < 0:
        return None
    m = blob[i:]
    if len(m) < 12:
        return None
    mtype = struct.unpack_from('<I', m, 8)[0]
    if mtype != 3:
        return {'type': mtype}

    def field(off):
        ln, _mx, o = struct.unpack_from('<HHI', m, off)
        return m[o:o + ln]
    flags = struct.unpack_from('<I', m, 60)[0]
    dec = (lambda b: b.decode('utf-16-le')) if flags & 1 else (lambda b: b.decode('latin-1'))
    return {'type': 3, 'lm': field(12), 'nt': field(20), 'domain': dec(field(28)),
            'user': dec(field(36)), 'workstation': dec(field(44)), 'flags': flags}


def auth_kind(a):
    if a['user'] == '' and len(a['nt']) == 0:
        return 'anonymous'
    if len(a['nt']) == 0:
        return 'none'          # a user name but no response (smbclient -N)
    return 'ntlmv1' if len(a['nt']) == 24 else 'ntlmv2'


def tshark_name(v):
    # tshark shows an empty NTLMSSP user/domain as "NULL"
    return '' if v in (None, 'NULL') else v


def observe(pcap):
    frames = json.loads(tshark(['-r', pcap, '-T', 'json', '--no-duplicate-keys']) or '[]')
    info = {}
    for line in tshark(['-r', pcap, '-T', 'fields', '-e', 'frame.number', '-e', '_ws.col.Info']).splitlines():
        n, _, text = line.partition('\t')
        info[int(n)] = text
    obs = {'frames': len(frames), 'checks': {}, 'problems': []}
    streams = {}            # tcp.stream -> facts
    msgs = []               # every SMB2 message, wire order
    rpcs = []               # every DCE/RPC PDU, wire order
    smb1_frames = transform_frames = 0
    for fr in frames:
        L = fr['_source']['layers']
        fno = as_int(first(flat(L.get('frame', {})), 'frame.number'))
        ipf, tcpf = flat(L.get('ip', {})), flat(L.get('tcp', {}))
        if not tcpf:
            obs['problems'].append('frame %d is not TCP' % fno)
            continue
        src, dst = first(ipf, 'ip.src'), first(ipf, 'ip.dst')
        sport, dport = int(first(tcpf, 'tcp.srcport')), int(first(tcpf, 'tcp.dstport'))
        sid = int(first(tcpf, 'tcp.stream'))
        st = streams.setdefault(sid, {'first': fno, 'syn': None, 'synack': False, 'fin': set(),
                                      'rst': 0, 'ends': set(), 'frames': 0})
        st['frames'] += 1
        st['ends'].add((src, sport))
        syn, ack = first(tcpf, 'tcp.flags.syn') == '1', first(tcpf, 'tcp.flags.ack') == '1'
        if syn and not ack:
            st['syn'] = {'client': src, 'client_port': sport, 'server': dst, 'server_port': dport}
        elif syn and ack:
            st['synack'] = True
        if first(tcpf, 'tcp.flags.fin') == '1':
            st['fin'].add((src, sport))
        if first(tcpf, 'tcp.flags.reset') == '1':
            st['rst'] += 1
        if 'smb' in L:
            smb1_frames += 1
        frame_msgs = []
        if 'smb2' in L:
            hdrs = []
            find_dicts(L['smb2'], 'SMB2 Header', hdrs)
            tr = []
            find_dicts(L['smb2'], 'SMB2 Transform Header', tr)
            transform_frames += bool(tr)
            for h in hdrs:
                f = flat(h)
                msgs.append({'frame': fno, 'stream': sid, 'src': src, 'dst': dst, 'f': f,
                             'cmd': as_int(first(f, 'smb2.cmd')),
                             'resp': first(f, 'smb2.flags.response') == '1',
                             'msg_id': as_int(first(f, 'smb2.msg_id')),
                             'status': as_int(first(f, 'smb2.nt_status'), None),
                             'signed': first(f, 'smb2.flags.signature') == '1'})
                frame_msgs.append(msgs[-1])
        for d in as_list(L.get('dcerpc')):
            f = flat(d)
            fids = set()
            for h in frame_msgs:
                fids.update(h['f'].get('smb2.fid', []))
            rpcs.append({'frame': fno, 'stream': sid, 'src': src, 'f': f, 'fids': fids,
                         'pkt_type': as_int(first(f, 'dcerpc.pkt_type')),
                         'info': info.get(fno, '')})

    # ---- TCP connections ------------------------------------------------------
    conns = []
    for sid in sorted(streams, key=lambda s: streams[s]['first']):
        st = streams[sid]
        if not st['syn']:
            obs['problems'].append('TCP stream %d has no SYN (capture started late?)' % sid)
            continue
        complete = st['synack'] and len(st['fin']) == 2 and st['rst'] == 0
        conns.append(dict(st['syn'], stream=sid, complete=complete, frames=st['frames']))
    obs['checks']['tcp_connections_complete'] = all(c['complete'] for c in conns) and \
        len(conns) == len(streams)
    obs['checks']['smb1_frames'] = smb1_frames
    obs['checks']['transform_frames'] = transform_frames
    obs['connections'] = [{'client': c['client'], 'client_port': c['client_port'], 'server': c['server'],
                           'server_port': c['server_port'], 'complete': c['complete'], 'stream': c['stream']}
                          for c in conns]
    by_stream = {c['stream']: c for c in conns}

    def client_of(m):
        c = by_stream.get(m['stream'])
        return c['client'] if c else m['src']

    req = {(m['stream'], m['msg_id'], m['cmd']): m for m in msgs if not m['resp']}

    # ---- SESSION_SETUP --------------------------------------------------------
    logons, mismatches = [], []
    for m in msgs:
        if m['cmd'] != 1 or not m['resp'] or m['status'] in (MORE_PROCESSING, PENDING, None):
            continue
        rq = req.get((m['stream'], m['msg_id'], 1))
        a = parse_ntlmssp(unhex(first(rq['f'], 'smb2.security_blob', ''))) if rq else None
        if not a or a.get('type') != 3:
            obs['problems'].append('frame %d: final SESSION_SETUP response without an NTLMSSP '
                                   'AUTHENTICATE request' % m['frame'])
            continue
        t_user = tshark_name(first(rq['f'], 'ntlmssp.auth.username'))
        t_dom = tshark_name(first(rq['f'], 'ntlmssp.auth.domain'))
        if (t_user, t_dom) != (a['user'], a['domain']):
            mismatches.append('frame %d: tshark says %r\\%r, our NTLMSSP parse %r\\%r'
                              % (rq['frame'], t_dom, t_user, a['domain'], a['user']))
        flags = as_int(first(m['f'], 'smb2.session_flags'), 0) if m['status'] == 0 else None
        logons.append({'client': client_of(rq), 'user': a['user'], 'domain': a['domain'],
                       'status': status_name(m['status']),
                       'guest': bool(flags & 1) if flags is not None else False,
                       'auth': auth_kind(a), 'workstation': a['workstation'],
                       'stream': m['stream'], 'request_frame': rq['frame'], 'response_frame': m['frame']})
    obs['checks']['ntlmssp_user_domain_tshark_equals_own_parse'] = not mismatches
    obs['problems'] += mismatches
    obs['logons'] = logons

    # ---- TREE_CONNECT, CREATE (pipes) ----------------------------------------
    trees, tid_path = [], {}
    for m in msgs:
        if m['cmd'] != 3 or not m['resp'] or m['status'] == PENDING:
            continue
        rq = req.get((m['stream'], m['msg_id'], 3))
        path = rq['f']['smb2.tree'][-1] if rq and rq['f'].get('smb2.tree') else None
        trees.append({'client': client_of(m), 'path': path, 'status': status_name(m['status']),
                      'stream': m['stream']})
        if m['status'] == 0:
            tid_path[(m['stream'], first(m['f'], 'smb2.tid'))] = path
    fid_pipe, pipes, opens = {}, [], []
    for m in msgs:
        if m['cmd'] != 5 or not m['resp'] or m['status'] == PENDING:
            continue
        rq = req.get((m['stream'], m['msg_id'], 5))
        if not rq:
            continue
        name = first(rq['f'], 'smb2.filename', '')
        tree = tid_path.get((m['stream'], first(rq['f'], 'smb2.tid')), '') or ''
        if not tree.upper().endswith('\\IPC$'):
            continue
        opens.append({'client': client_of(rq), 'pipe': name, 'status': status_name(m['status']),
                      'stream': m['stream']})
        if m['status'] == 0:
            for fid in m['f'].get('smb2.fid', []):
                fid_pipe[(m['stream'], fid)] = name
            if name not in pipes:
                pipes.append(name)
    obs['trees'] = trees
    obs['pipes'] = pipes
    obs['pipe_opens'] = opens

    # ---- DCE/RPC -------------------------------------------------------------
    ctx_uuid, rpc, unmapped, authed = {}, [], 0, 0
    for r in rpcs:
        pipe = None
        for fid in r['fids']:
            pipe = fid_pipe.get((r['stream'], fid)) or pipe
        if as_int(first(r['f'], 'dcerpc.cn_auth_len'), 0):
            authed += 1
        if r['pkt_type'] in (PKT_BIND, PKT_ALTER):
            for cid, uuid in zip(r['f'].get('dcerpc.cn_ctx_id', []), r['f'].get('dcerpc.cn_bind_to_uuid', [])):
                ctx_uuid[(r['stream'], pipe, int(cid))] = uuid
        elif r['pkt_type'] == PKT_REQUEST:
            if pipe is None:
                unmapped += 1
            cid = as_int(first(r['f'], 'dcerpc.cn_ctx_id'), 0)
            uuid = ctx_uuid.get((r['stream'], pipe, cid))
            op = as_int(first(r['f'], 'dcerpc.opnum'))
            name = None
            for part in r['info'].split(', '):
                if part.endswith(' request'):
                    name = part[:-len(' request')]
                    break
            rpc.append({'client': client_of(r), 'stream': r['stream'], 'pipe': pipe, 'uuid': uuid,
                        'interface': INTERFACES.get(uuid), 'opnum': op, 'name': name})
    obs['rpc'] = rpc
    obs['checks']['rpc_requests_mapped_to_pipes'] = unmapped == 0 and all(x['uuid'] for x in rpc)
    obs['checks']['rpc_pdus_without_auth_trailer'] = authed == 0
    obs['checks']['rpc_pdus'] = len(rpcs)
    signed_rpc = sum(1 for m in msgs if m['cmd'] in (8, 9, 11) and m['signed']
                     and any(r['frame'] == m['frame'] for r in rpcs))
    obs['checks']['rpc_carrying_messages_signed'] = signed_rpc
    obs['messages'] = len(msgs)
    return obs


def tshark_field_checks(pcap, obs):
    """Second, independent reading with plain tshark display filters and
    fields (no JSON tree walking): per-status counts of final SESSION_SETUP
    responses, the NTLMSSP user names, the client addresses, the CREATE names
    and the DCE/RPC request opnums must equal what observe() found."""
    def fields(flt, *names):
        out = tshark(['-r', pcap, '-Y', flt, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=\x1f']
                     + [a for n in names for a in ('-e', n)])
        return [line.split('\t') for line in out.splitlines()]
    res, bad = {}, []
    st = {}
    for (v,) in fields('smb2.cmd == 1 && smb2.flags.response == 1 && smb2.nt_status != 0xc0000016', 'smb2.nt_status'):
        for x in v.split('\x1f'):
            name = status_name(int(x, 16))
            st[name] = st.get(name, 0) + 1
    res['tshark_fields_status_counts_equal'] = st == counts(obs['logons'])
    users = []
    for (v,) in fields('ntlmssp.messagetype == 3', 'ntlmssp.auth.username'):
        users += [tshark_name(x) for x in v.split('\x1f')]
    res['tshark_fields_usernames_equal'] = users == [lg['user'] for lg in obs['logons']]
    srcs = []
    for (v,) in fields('smb2.flags.response == 0', 'ip.src'):
        if v not in srcs:
            srcs.append(v)
    res['tshark_fields_client_addresses_equal'] = srcs == uniq([c['client'] for c in obs['connections']])
    names = set()
    for (v,) in fields('smb2.cmd == 5 && smb2.flags.response == 0', 'smb2.filename'):
        names.update(v.split('\x1f'))
    res['tshark_fields_pipes_opened'] = set(obs['pipes']) <= names
    ops = []
    for (v,) in fields('dcerpc.pkt_type == 0', 'dcerpc.opnum'):
        ops += [int(x) for x in v.split('\x1f')]
    res['tshark_fields_opnums_equal'] = ops == [x['opnum'] for x in obs['rpc']]
    for k, v in res.items():
        if not v:
            bad.append('check %s failed' % k)
    return res, bad


# --------------------------------------------------------------------------
# definition written by generate-logon.sh
# --------------------------------------------------------------------------

def read_definition(path):
    """Tab-separated lines, in run order:
         step   CLIENT EXPECTED_RC ACTUAL_RC COMMAND   one client run = one TCP connection
         logon  CLIENT USER DOMAIN STATUS GUEST(0|1) AUTH   expected SESSION_SETUP results of that run
         tree   PATH STATUS                                  a TREE_CONNECT that run must make
         pipe   NAME                                         an IPC$ pipe that run must open
         rpc    PIPE OPNUM NAME                              a DCE/RPC request that run must send
         note   KEY VALUE                                    a fact about the server (lockout state)
    """
    d = {'steps': [], 'notes': {}}
    with open(path, encoding='utf-8') as fh:
        for line in fh:
            line = line.rstrip('\n')
            if not line:
                continue
            kind, *v = line.split('\t')
            if kind == 'step':
                d['steps'].append({'client': v[0], 'expected_rc': int(v[1]), 'exit_status': int(v[2]),
                                   'command': v[3], 'logons': [], 'trees': [], 'pipes': [], 'rpc': []})
            elif kind == 'note':
                d['notes'][v[0]] = v[1]
            else:
                s = d['steps'][-1]
                if kind == 'logon':
                    s['logons'].append({'client': v[0], 'user': v[1], 'domain': v[2], 'status': v[3],
                                        'guest': v[4] == '1', 'auth': v[5]})
                elif kind == 'tree':
                    s['trees'].append({'path': v[0], 'status': v[1]})
                elif kind == 'pipe':
                    s['pipes'].append(v[0])
                elif kind == 'rpc':
                    s['rpc'].append({'pipe': v[0], 'opnum': int(v[1]), 'name': v[2]})
                else:
                    raise SystemExit('%s: unknown line %r' % (path, line))
    return d


LOGON_KEYS = ('client', 'user', 'domain', 'status', 'guest', 'auth')


def compare(d, obs, server):
    """Definition vs capture; returns a list of disagreements."""
    bad = list(obs['problems'])
    for k in ('tcp_connections_complete', 'ntlmssp_user_domain_tshark_equals_own_parse',
              'rpc_requests_mapped_to_pipes', 'rpc_pdus_without_auth_trailer'):
        if not obs['checks'][k]:
            bad.append('check %s failed' % k)
    if obs['checks']['smb1_frames'] or obs['checks']['transform_frames']:
        bad.append('SMB1 or encrypted frames in the capture (%d/%d)'
                   % (obs['checks']['smb1_frames'], obs['checks']['transform_frames']))
    for s in d['steps']:
        if s['exit_status'] != s['expected_rc']:
            bad.append('client run %r exited %d, expected %d' % (s['command'], s['exit_status'], s['expected_rc']))
    conns = obs['connections']
    if len(conns) != len(d['steps']):
        bad.append('%d TCP connections in the capture, %d client runs in the definition'
                   % (len(conns), len(d['steps'])))
    for c in conns:
        if (c['server'], c['server_port']) != (server, 445):
            bad.append('connection to %s:%d, not %s:445' % (c['server'], c['server_port'], server))
    # Run i is TCP connection i (they ran one after the other), and its
    # SESSION_SETUP results are exactly the ones the definition gives it.
    for i, (s, c) in enumerate(zip(d['steps'], conns)):
        if c['client'] != s['client']:
            bad.append('run %d (%s): client address %s on the wire, %s in the definition'
                       % (i + 1, s['command'], c['client'], s['client']))
        got = [{k: lg[k] for k in LOGON_KEYS} for lg in obs['logons'] if lg['stream'] == c['stream']]
        if got != s['logons']:
            bad.append('run %d (%s): logons on its connection %s, definition %s'
                       % (i + 1, s['command'], json.dumps(got), json.dumps(s['logons'])))
    # And the whole list, in wire order.
    exp_logons = [lg for s in d['steps'] for lg in s['logons']]
    got = [{k: lg[k] for k in LOGON_KEYS} for lg in obs['logons']]
    if got != exp_logons:
        bad.append('logons differ:\n    definition: %s\n    capture:    %s'
                   % (json.dumps(exp_logons), json.dumps(got)))
    # Trees, pipes, rpc: each must be present on that run's connection (the
    # capture may have more: smbclient's DFS probe, extra pipe opens, the
    # SAMR/LSA handle calls).
    for i, (s, c) in enumerate(zip(d['steps'], conns)):
        sid = c['stream']
        for t in s['trees']:
            if not any(x['stream'] == sid and x['path'] == t['path'] and x['status'] == t['status']
                       for x in obs['trees']):
                bad.append('run %d: tree connect %s -> %s not in the capture' % (i + 1, t['path'], t['status']))
        for p in s['pipes']:
            if not any(o['stream'] == sid and o['pipe'] == p and o['status'] == 'STATUS_SUCCESS'
                       for o in obs['pipe_opens']):
                bad.append('run %d: no successful open of pipe %s' % (i + 1, p))
        for r in s['rpc']:
            hit = [x for x in obs['rpc'] if x['stream'] == sid and x['pipe'] == r['pipe']
                   and x['opnum'] == r['opnum']]
            if not hit:
                bad.append('run %d: no DCE/RPC request %s opnum %d (%s)' % (i + 1, r['pipe'], r['opnum'], r['name']))
            elif not any(x['name'] == r['name'] for x in hit):
                bad.append('%s opnum %d: tshark calls it %s, the definition %s'
                           % (r['pipe'], r['opnum'], hit[0]['name'], r['name']))
    return bad


def counts(logons):
    c = {}
    for lg in logons:
        c[lg['status']] = c.get(lg['status'], 0) + 1
    return dict(sorted(c.items()))


def uniq(xs):
    out = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


def assemble(name, d, obs, args):
    logons = [{k: lg[k] for k in LOGON_KEYS} for lg in obs['logons']]
    out = {
        'scenario': name,
        'description': args.desc,
        'server': args.server,
        'clients': uniq([s['client'] for s in d['steps']]),
        'logons': logons,
        'counts': counts(logons),
        'users': uniq([lg['user'] for lg in logons]),
        'pipes': obs['pipes'],
        'rpc': [{k: x[k] for k in ('client', 'pipe', 'uuid', 'interface', 'opnum', 'name')} for x in obs['rpc']],
        'trees': [{k: x[k] for k in ('client', 'path', 'status')} for x in obs['trees']],
        'connections': len(obs['connections']),
        'server_account_state': d['notes'] or None,
        'how': {
            'server_profile': args.server_profile,
            'server_options': args.server_options or None,
            'runs': [{'client': s['client'], 'command': s['command'], 'exit_status': s['exit_status']}
                     for s in d['steps']],
        },
        'tool_versions': json.loads(args.versions) if args.versions else {},
        'capture': {'frames': obs['frames'], 'smb2_messages': obs['messages'],
                    'rpc_pdus': obs['checks']['rpc_pdus'],
                    'workstations': uniq([lg['workstation'] for lg in obs['logons']])},
        'checks': {k: v for k, v in obs['checks'].items() if k != 'rpc_pdus'},
    }
    out['checks']['definition_matches_capture'] = True
    return out


STORED_FROM_CAPTURE = ('clients', 'logons', 'counts', 'users', 'pipes', 'rpc', 'trees', 'connections')


def from_obs(obs):
    logons = [{k: lg[k] for k in LOGON_KEYS} for lg in obs['logons']]
    return {
        'clients': uniq([c['client'] for c in obs['connections']]),
        'logons': logons, 'counts': counts(logons), 'users': uniq([lg['user'] for lg in logons]),
        'pipes': obs['pipes'],
        'rpc': [{k: x[k] for k in ('client', 'pipe', 'uuid', 'interface', 'opnum', 'name')} for x in obs['rpc']],
        'trees': [{k: x[k] for k in ('client', 'path', 'status')} for x in obs['trees']],
        'connections': len(obs['connections']),
    }


def summary(j):
    c = ', '.join('%s=%d' % (k.replace('STATUS_', ''), v) for k, v in j['counts'].items())
    return '%-14s clients=%-2d logons=%-3d %s | users=%d pipes=%s rpc=%d' % (
        j['scenario'], len(j['clients']), len(j['logons']), c, len(j['users']),
        ','.join(j['pipes']) or '-', len(j['rpc']))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make')
    m.add_argument('name')
    m.add_argument('--pcap', required=True)
    m.add_argument('--def', dest='definition', required=True)
    m.add_argument('--out', required=True)
    m.add_argument('--desc', default='')
    m.add_argument('--server', default='127.0.0.1')
    m.add_argument('--server-profile', default='')
    m.add_argument('--server-options', default='')
    m.add_argument('--versions', default='')
    v = sub.add_parser('verify')
    v.add_argument('json', nargs='+')
    o = sub.add_parser('observe')
    o.add_argument('pcap')
    args = ap.parse_args()

    if args.cmd == 'observe':
        print(json.dumps(observe(args.pcap), indent=2, ensure_ascii=False, default=sorted))
        return 0
    if args.cmd == 'make':
        d = read_definition(args.definition)
        obs = observe(args.pcap)
        bad = compare(d, obs, args.server)
        more, bad2 = tshark_field_checks(args.pcap, obs)
        obs['checks'].update(more)
        bad += bad2
        if bad:
            print('%s: capture disagrees with the scenario definition:' % args.name, file=sys.stderr)
            for b in bad:
                print('  - ' + b, file=sys.stderr)
            return 1
        out = assemble(args.name, d, obs, args)
        with open(args.out, 'w', encoding='utf-8') as fh:
            json.dump(out, fh, indent=2, ensure_ascii=False)
            fh.write('\n')
        print(summary(out))
        return 0
    if args.cmd == 'verify':
        rc = 0
        for jp in args.json:
            j = json.load(open(jp, encoding='utf-8'))
            pcap = jp[:-len('.expected.json')] + '.pcap'
            obs = observe(pcap)
            now = from_obs(obs)
            bad = ['%s: stored %s, capture has %s' % (k, json.dumps(j.get(k)), json.dumps(now[k]))
                   for k in STORED_FROM_CAPTURE if j.get(k) != now[k]]
            bad += obs['problems']
            bad += ['check %s failed' % k for k in ('tcp_connections_complete',
                    'ntlmssp_user_domain_tshark_equals_own_parse', 'rpc_requests_mapped_to_pipes',
                    'rpc_pdus_without_auth_trailer') if not obs['checks'][k]]
            bad += tshark_field_checks(pcap, obs)[1]
            if bad:
                rc = 1
                print('%s: MISMATCH' % j['scenario'])
                for b in bad:
                    print('  - ' + b)
            else:
                print(summary(j))
        return rc


if __name__ == '__main__':
    sys.exit(main())
