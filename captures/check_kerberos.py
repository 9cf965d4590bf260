#!/usr/bin/env python3
"""Ground truth for the Kerberos SMB captures (captures/generate-kerberos.sh).

  check_kerberos.py make NAME --pcap P --keytab K --keys KEYS ... --out JSON
  check_kerberos.py verify captures/kerberos/*.expected.json

The SMB facts (dialect, signing, cipher, trees, files, statuses, our own
signature and decryption checks with the keys smbd logged) come from
check_capture.observe().  The Kerberos facts come from tshark with its keytab
option: the AP-REQ ticket and authenticator it decrypts, the AP-REP subkey,
which must equal the session key smbd logged.  Every fact is compared with
the scenario definition; a mismatch fails the run.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_capture as cc  # noqa: E402

# RFC 3961 section 8 / RFC 4757 enctype numbers.
ENCTYPES = {17: 'aes128-cts-hmac-sha1-96', 18: 'aes256-cts-hmac-sha1-96', 23: 'rc4-hmac',
            19: 'aes128-cts-hmac-sha256-128', 20: 'aes256-cts-hmac-sha384-192'}


def enctype(v):
    return ENCTYPES.get(int(v), 'enctype %s' % v) if v not in (None, '') else None


def tshark_time(v):
    """'Dec  7, 2026 03:29:37.000000000 UTC' -> '2026-12-07T03:29:37Z'."""
    if not v:
        return None
    v = ' '.join(v.split()).replace(' UTC', '').split('.')[0]
    t = datetime.datetime.strptime(v, '%b %d, %Y %H:%M:%S')
    return t.strftime('%Y-%m-%dT%H:%M:%SZ')


FIELDS = ['frame.number', 'smb2.flags.response', 'kerberos.msg_type', 'kerberos.realm',
          'kerberos.SNameString', 'kerberos.tkt_vno', 'kerberos.kvno', 'kerberos.etype',
          'kerberos.CNameString', 'kerberos.crealm', 'kerberos.keytype', 'kerberos.keyvalue',
          'kerberos.authtime', 'kerberos.endtime']


def kerberos_facts(pcap, keytab):
    cmd = ['tshark', '-n', '-r', pcap, '-o', 'kerberos.decrypt:TRUE', '-o', 'kerberos.file:' + keytab,
           '-Y', 'smb2.cmd == 1 and kerberos', '-T', 'fields', '-E', 'occurrence=a',
           '-E', 'aggregator=|', '-E', 'separator=\t']
    for f in FIELDS:
        cmd += ['-e', f]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit('tshark failed: %s' % r.stderr.strip())
    req = rep = None
    for line in r.stdout.splitlines():
        row = dict(zip(FIELDS, [c.split('|') if c else [] for c in line.split('\t')]))
        types = row['kerberos.msg_type']
        if '14' in types and req is None:
            req = row
        elif '15' in types and rep is None:
            rep = row
    k = {}
    if req is None:
        return k
    # AP-REQ: the ticket's clear part (realm, sname, kvno, etype), then what
    # decrypting the ticket and the authenticator adds (cname, crealm, the
    # session key and the subkey, in that order).
    k['service'] = '/'.join(req['kerberos.SNameString'])
    k['service_realm'] = (req['kerberos.realm'] or [None])[0]
    k['ticket_kvno'] = int(req['kerberos.kvno'][0]) if req['kerberos.kvno'] else None
    k['ticket_enctype'] = enctype((req['kerberos.etype'] or [None])[0])
    # The ticket decrypted (the service key is in the keytab) shows its
    # EncTicketPart: authtime and endtime, cname, crealm, the session key.
    # Without it tshark may still read the authenticator, with a session key
    # it learnt from the captured TGS-REP (e.g. from the user's own key).
    decrypted = bool(req['kerberos.authtime'])
    k['tshark_decrypted_ticket'] = decrypted
    cn, cr, kt = req['kerberos.CNameString'], req['kerberos.crealm'], req['kerberos.keytype']
    if decrypted:
        k['client'] = cn[0] if cn else None
        k['client_realm'] = cr[0] if cr else None
        k['session_key_enctype'] = enctype(kt[0]) if kt else None
        k['authenticator_subkey_enctype'] = enctype(kt[1]) if len(kt) > 1 else None
        k['authtime'] = tshark_time(req['kerberos.authtime'][0])
        k['endtime'] = tshark_time((req['kerberos.endtime'] or [None])[0])
    else:
        k['tshark_decrypted_authenticator'] = bool(cn)
    if rep is not None and rep['kerberos.keyvalue']:
        k['ap_rep_subkey_enctype'] = enctype((rep['kerberos.keytype'] or [None])[0])
        k['_ap_rep_subkey'] = bytes.fromhex(rep['kerberos.keyvalue'][0])
    return k


def observe(args):
    obs = cc.observe(args.pcap, args.keys, args.credentials)
    obs['kerberos'] = kerberos_facts(args.pcap, args.keytab) if args.auth == 'kerberos' else {}
    key = None
    sessions = cc.parse_keys_file(args.keys) if args.keys else []
    if sessions:
        key = sessions[-1].get('Session Key')
    sub = obs['kerberos'].pop('_ap_rep_subkey', None)
    if sub is not None:
        obs['checks']['ap_rep_subkey_equals_logged_session_key'] = sub == key
    if key is not None:
        obs['session_key_len'] = len(key)
    return obs


def expectations(args):
    d = {}
    for kv in args.expect:
        k, _, v = kv.partition('=')
        d[k] = cc.parse_value(v)
    return d


def compare(args, exp, obs):
    bad = []
    for k, v in exp.items():
        if k == 'ticket_enctype':
            got = obs['kerberos'].get(k)
        else:
            got = obs.get(k)
        if v != got:
            bad.append('%s: defined %r, capture has %r' % (k, v, got))
    kf = obs['kerberos']
    if args.auth == 'kerberos':
        if not kf:
            bad.append('no Kerberos AP-REQ in SESSION_SETUP')
        elif args.keytab_of == 'machine':
            if not kf.get('tshark_decrypted_ticket'):
                bad.append('tshark could not decrypt the ticket with the keytab')
            elif (kf.get('client'), kf.get('client_realm')) != (args.user, args.realm):
                bad.append('ticket client %r@%r, defined %s@%s' % (kf.get('client'), kf.get('client_realm'), args.user, args.realm))
        elif kf.get('tshark_decrypted_ticket'):
            bad.append('the user-only keytab decrypted the service ticket')
    elif obs.get('auth') != args.auth or obs.get('user') != args.user:
        bad.append('auth %r user %r, defined %s %s' % (obs.get('auth'), obs.get('user'), args.auth, args.user))
    if not obs.get('logon_ok'):
        bad.append('the logon did not succeed')
    files = cc.files_from_commands(args.commands)
    for k, v in obs['checks'].items():
        if v is False and k != 'tshark_decrypted_all_transforms':
            bad.append('check failed: %s' % k)
        if k in ('own_signatures_bad', 'own_decrypt_failures') and v:
            bad.append('%s: %d' % (k, v))
    if obs['transform_frames'] and not obs['checks'].get('own_decrypted_transforms'):
        bad.append('our own decryption with the logged keys failed')
    if obs['checks'].get('tshark_decrypted_all_transforms') and [f for f in files if f not in obs['files']]:
        bad.append('files %r not all in the capture (%r)' % (files, obs['files']))
    return bad


def assemble(args, obs):
    kf = obs['kerberos']
    tshark_dec = obs['checks'].get('tshark_decrypted_all_transforms')
    out = {
        'scenario': args.name,
        'notes': args.desc,
        'dialect': obs['dialect'],
        'client_signing_required': obs['client_signing_required'],
        'server_signing_required': obs['server_signing_required'],
        'signing_algorithm': obs.get('signing_algorithm'),
        'cipher': obs.get('cipher'),
        'encrypted': obs['encrypted'],
        'auth': args.auth,
        'user': args.user,
        'domain': args.realm if args.auth == 'kerberos' else args.domain,
        'guest': obs['guest'],
        'anonymous': obs['anonymous'],
        'netname': obs.get('netname'),
        'session_ids': obs.get('session_ids', []),
        'session_key_len': obs.get('session_key_len'),
        # tshark 4.0 cannot decrypt SMB with a 32-byte (AES-256 Kerberos)
        # session key: then the trees and files are the definition's.
        'trees': obs['trees'] if obs['trees'] or not obs['encrypted'] else
        [{'path': '\\\\%s\\IPC$' % obs.get('netname'), 'encrypt_data': False, 'status': 'STATUS_SUCCESS'},
         {'path': '\\\\' + args.target.lstrip('/').replace('/', '\\'), 'encrypt_data': False, 'status': 'STATUS_SUCCESS'}],
        'files': obs['files'] if obs['files'] or not obs['encrypted'] else cc.files_from_commands(args.commands),
        'trees_files_from': 'tshark' if (tshark_dec or not obs['encrypted']) else 'definition',
        'statuses': obs['statuses'],
        'kerberos': kf,
        'keytab': {'file': args.name + '.keytab', 'holds': {
            'machine': 'the DC machine account (the cifs/ service key)',
            'user': "only carol's keys (no service key)"}[args.keytab_of]},
        'how': {
            'client': args.client_command.strip(),
            'keys_file': args.name + '.keys',
            'credentials_file': args.name + '.credentials' if args.credentials else None,
            'versions': json.loads(args.versions) if args.versions else None,
        },
        'capture': {
            'frames': obs['frames'],
            'transform_frames': obs['transform_frames'],
            'signed_messages': obs.get('signed_messages'),
        },
        'checks': obs['checks'],
    }
    return out


def summary(j):
    k = j.get('kerberos') or {}
    c = j['checks']
    return '%-28s %-6s %-13s %-12s %-9s ticket=%-24s tshark-ticket=%-5s own-sig=%s/%s own-dec=%s/%s' % (
        j['scenario'], j['dialect'], j['signing_algorithm'] or '-', j['cipher'] or '-', j['auth'],
        k.get('ticket_enctype') or '-', k.get('tshark_decrypted_ticket', '-'),
        c.get('own_signatures_good', '-'), c.get('own_signatures_bad', '-'),
        c.get('own_decrypted_transforms', '-'), c.get('own_decrypt_failures', '-'))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make')
    m.add_argument('name')
    for a in ('--pcap', '--keytab', '--keys', '--out', '--target'):
        m.add_argument(a, required=True)
    m.add_argument('--credentials')
    m.add_argument('--desc', default='')
    m.add_argument('--auth', default='kerberos')
    m.add_argument('--user', required=True)
    m.add_argument('--realm', required=True)
    m.add_argument('--domain', required=True)
    m.add_argument('--keytab-of', choices=('machine', 'user'), default='machine')
    m.add_argument('--commands', default='')
    m.add_argument('--client-command', default='')
    m.add_argument('--versions', default='')
    m.add_argument('--expect', action='append', default=[], metavar='KEY=VALUE')
    v = sub.add_parser('verify')
    v.add_argument('json', nargs='+')
    args = ap.parse_args()

    if args.cmd == 'make':
        exp = expectations(args)
        obs = observe(args)
        bad = compare(args, exp, obs)
        if bad:
            print('%s: capture disagrees with the scenario definition:' % args.name, file=sys.stderr)
            for b in bad:
                print('  - ' + b, file=sys.stderr)
            print(json.dumps(obs, indent=1, default=str), file=sys.stderr)
            return 1
        out = assemble(args, obs)
        with open(args.out, 'w', encoding='utf-8') as fh:
            json.dump(out, fh, indent=2, ensure_ascii=False)
            fh.write('\n')
        print(summary(out))
        return 0
    rc = 0
    for jp in args.json:
        j = json.load(open(jp, encoding='utf-8'))
        base = jp[:-len('.expected.json')]
        ns = argparse.Namespace(pcap=base + '.pcap', keytab=base + '.keytab', keys=base + '.keys',
                                credentials=base + '.credentials' if j['how']['credentials_file'] else None,
                                auth=j['auth'])
        obs = observe(ns)
        got = dict(obs['kerberos'])
        if got != j['kerberos'] or obs['checks'] != j['checks']:
            rc = 1
            print('%s: MISMATCH\n  stored %r %r\n  now    %r %r' % (j['scenario'], j['kerberos'], j['checks'], got, obs['checks']))
        else:
            print(summary(j))
    return rc


if __name__ == '__main__':
    sys.exit(main())
