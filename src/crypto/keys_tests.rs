//! Key and credential files: every format on real data, merging, errors, redaction, file
//! permissions, and no panic on arbitrary input.

use std::path::{Path, PathBuf};

use super::*;

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("captures/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

fn hex(s: &str) -> Vec<u8> {
    decode_hex(&s.replace(' ', "")).expect("test hex")
}

fn keys(text: &str) -> Vec<SessionKeys> {
    parse_keys(text, "t.keys").unwrap_or_else(|e| panic!("{e}"))
}

fn key_err(text: &str) -> KeyFileError {
    match parse_keys(text, "t.keys") {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

fn bytes(s: &Option<Secret>) -> &[u8] {
    s.as_ref().expect("key present").as_bytes()
}

// ---- Samba dumps (captures/*.keys, smbclient 4.17 `debug encryption = yes`) ----

/// SessionId per capture as `tshark -r captures/X.pcap -Y smb2 -T fields -e smb2.sesid`
/// prints it (TShark 4.0.17; the non-zero value).
const TSHARK_SESIDS: &[(&str, u64)] = &[
    ("bob-nonascii", 0x00000000ddcb7885),
    ("ntlmv1-ess", 0x00000000e05b34ba),
    ("ntlmv1", 0x00000000c9f04612),
    ("server-encrypt-required", 0x00000000864aab3c),
    ("server-no-encryption", 0x00000000c3848537),
    ("server-signing-required", 0x000000007f2762db),
    ("smb30-enc-aes128ccm", 0x00000000638bf44b),
    ("smb30-signed", 0x0000000032a39134),
    ("smb302-signed", 0x00000000dd517f01),
    ("smb311-by-name", 0x000000007d86fa93),
    ("smb311-default", 0x00000000a64cf1a3),
    ("smb311-enc-aes128ccm", 0x00000000c94956cb),
    ("smb311-enc-aes128gcm", 0x000000009d07b317),
    ("smb311-enc-aes256ccm", 0x000000005d2c432d),
    ("smb311-enc-aes256gcm", 0x0000000069ffd2eb),
    ("smb311-enc-bulk", 0x00000000ca902cce),
    ("smb311-share-encrypt", 0x000000002277ee2e),
    ("smb311-sign-cmac", 0x000000007a9890e1),
    ("smb311-sign-gmac", 0x0000000066318380),
    ("smb311-sign-hmac", 0x000000001bc97aa0),
    ("smb311-signed-bulk", 0x0000000042cfb5be),
    ("smb311-unsigned-bulk", 0x00000000bc02cb5a),
];

#[test]
fn every_capture_keys_file_parses_to_its_tshark_session_id() {
    let files = files_with_ext(&captures(), "keys");
    assert_eq!(
        files.len(),
        TSHARK_SESIDS.len(),
        "a capture's keys file has no tshark id here"
    );
    for p in files {
        let name = p.file_stem().and_then(|s| s.to_str()).expect("utf-8 name");
        let path = p.display().to_string();
        let v = parse_keys(&read(&p), &path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.len(), 1, "{name}");
        let want = TSHARK_SESIDS
            .iter()
            .find(|(n, _)| *n == name)
            .expect("listed")
            .1;
        let k = &v[0];
        assert_eq!(k.session_id, want, "{name}");
        assert_eq!(k.source, format!("{path}:2"));
        assert_eq!(bytes(&k.session_key).len(), 16, "{name}");
        assert_eq!(bytes(&k.signing).len(), 16, "{name}");
        let cipher_len = if name.contains("aes256") { 32 } else { 16 };
        assert_eq!(bytes(&k.c2s).len(), cipher_len, "{name}");
        assert_eq!(bytes(&k.s2c).len(), cipher_len, "{name}");
    }
}

#[test]
fn samba_dump_16_byte_values_match_the_file() {
    // captures/bob-nonascii.keys
    let v = keys(&read(&captures().join("bob-nonascii.keys")));
    let k = &v[0];
    assert_eq!(k.session_id, 0xddcb7885);
    assert_eq!(
        bytes(&k.session_key),
        hex("EC 29 25 50 34 0A BA 12 BD 58 31 B3 35 55 E2 A2")
    );
    assert_eq!(
        bytes(&k.signing),
        hex("25 16 19 6C D5 1E 63 89 22 9F DC 34 71 A0 F1 29")
    );
    // ServerIn = client-to-server, ServerOut = server-to-client.
    assert_eq!(
        bytes(&k.c2s),
        hex("6A E7 96 01 0A 34 4A EC E2 E8 F9 93 EF A1 E5 17")
    );
    assert_eq!(
        bytes(&k.s2c),
        hex("6A 61 FB 26 98 E7 E4 3E 43 7E 29 06 56 C3 05 D2")
    );
}

#[test]
fn samba_dump_32_byte_values_continue_on_0010_lines() {
    // captures/smb311-enc-aes256gcm.keys
    let v = keys(&read(&captures().join("smb311-enc-aes256gcm.keys")));
    let k = &v[0];
    assert_eq!(k.session_id, 0x69ffd2eb);
    assert_eq!(
        bytes(&k.session_key),
        hex("16232FF80E07B5CDB636190DBF0E89A7")
    );
    assert_eq!(
        bytes(&k.c2s),
        hex("2C214D554E44758DB2DFE802C9AD2F97 6CAAF8A53D6F1C508F4C9A962FBC8507")
    );
    assert_eq!(
        bytes(&k.s2c),
        hex("3F0D3976F897FA1D164945B49002762A E3D652B897B0896F1EDDBB953CAE6A7A")
    );
}

/// smb311-enc-aes256gcm.keys as it might appear in a log: Samba's debug header, syslog and
/// journal prefixes on every line (the pid in brackets looks like an offset tag), the
/// Algo lines smbd prints, and blanks collapsed on one line.
const PREFIXED_DUMP: &str = "\
[2026/11/22 10:00:00.123456,  0] ../../source3/smbd/smb2_sesssetup.c:490(smbd_smb2_auth_generic_return)
Nov 22 10:00:00 fs1 smbd[1234]:   debug encryption: dumping generated session keys
Nov 22 10:00:00 fs1 smbd[1234]:   Session Id    [0000] EB D2 FF 69 00 00 00 00                             ...i....
Nov 22 10:00:00 fs1 smbd[1234]:   Session Key   [0000] 16 23 2F F8 0E 07 B5 CD   B6 36 19 0D BF 0E 89 A7   .#/..... .6......
Nov 22 10:00:00 fs1 smbd[1234]:   Signing Algo: 1
2026-11-22T10:00:00 smb2_signing_key: Signing Key [0000] A5 AE BC 18 D8 91 6B B7 F2 BA D8 ED 09 40 09 B1 ......k. .....@..
Nov 22 10:00:00 fs1 smbd[1234]:   App Key       [0000] 91 BE 1B A6 20 D4 52 E8   C2 16 DD 90 44 E8 B0 83   .... .R. ....D...
Nov 22 10:00:00 fs1 smbd[1234]:   Cipher Algo: 4
Nov 22 10:00:00 fs1 smbd[1234]:   ServerIn Key  [0000] 2C 21 4D 55 4E 44 75 8D   B2 DF E8 02 C9 AD 2F 97   ,!MUNDu. ....../.
Nov 22 10:00:00 fs1 smbd[1234]:   [0010] 6C AA F8 A5 3D 6F 1C 50   8F 4C 9A 96 2F BC 85 07   l...=o.P .L../...
Nov 22 10:00:00 fs1 smbd[1234]:   ServerOut Key [0000] 3F 0D 39 76 F8 97 FA 1D   16 49 45 B4 90 02 76 2A   ?.9v.... .IE...v*
Nov 22 10:00:00 fs1 smbd[1234]:   [0010] E3 D6 52 B8 97 B0 89 6F   1E DD BB 95 3C AE 6A 7A   ..R....o ....<.jz
";

#[test]
fn samba_dump_with_log_prefixes() {
    let direct = keys(&read(&captures().join("smb311-enc-aes256gcm.keys")));
    let mut v = keys(PREFIXED_DUMP);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].source, "t.keys:3");
    v[0].source = direct[0].source.clone();
    assert_eq!(v, direct);
}

#[test]
fn samba_dump_with_crlf_and_lowercase_labels() {
    let text = read(&captures().join("smb311-sign-gmac.keys"));
    let crlf = text
        .replace('\n', "\r\n")
        .replace("ServerIn Key", "serverin key");
    let a = keys(&text);
    let b = keys(&crlf);
    assert_eq!(a[0].c2s, b[0].c2s);
    assert_eq!(a[0].session_id, 0x66318380);
}

#[test]
fn samba_dump_line_ignores_the_ascii_column() {
    let line = |s: &str| samba::dump_line(s.as_bytes()).to_vec();
    // Two bytes whose ASCII column ("AB") is itself a hex pair: the fixed layout wins.
    assert_eq!(
        line(" 41 42                                               AB"),
        [0x41, 0x42]
    );
    // smb311-by-name.keys App Key: a blank inside the ASCII column.
    let app = " A4 25 49 33 64 B4 EC 1E   0E 20 EA 07 62 B1 8C 44   .%I3d... . ..b..D";
    assert_eq!(line(app), hex("A4254933 64B4EC1E 0E20EA07 62B18C44"));
    // Blanks collapsed by a log shipper: pairs up to the first non-pair.
    assert_eq!(
        line(" 85 78 CB DD 00 00 00 00 .x......"),
        hex("8578CBDD00000000")
    );
    // Trailing blanks trimmed, then a wide gap before an ASCII column that looks like hex.
    assert_eq!(line(" 85 78"), [0x85, 0x78]);
    assert_eq!(line(" 41 42\t\t  AB").len(), 2);
    assert!(line("").is_empty() && line("zz").is_empty() && line(" 4").is_empty());
}

#[test]
fn linux_kernel_dump_and_encryption_decryption_labels() {
    let text = "\
[  886.211612] CIFS: VFS: generate_smb3signingkey: dumping generated AES session keys
[  886.211619] CIFS: VFS: Session Id    05 00 00 00 00 e8 00 00
[  886.211622] CIFS: VFS: Cipher type   2
[  886.211624] CIFS: VFS: Session Key   00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f
[  886.211628] CIFS: VFS: ServerIn Key  10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f
[  886.211630] CIFS: VFS: ServerOut Key 20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f
Session Id    [0000] 06 00 00 00 00 E8 00 00                             ........
Decryption Key [0000] 30 31 32 33 34 35 36 37   38 39 3A 3B 3C 3D 3E 3F   01234567 89:;<=>?
Encryption Key [0000] 40 41 42 43 44 45 46 47   48 49 4A 4B 4C 4D 4E 4F   @ABCDEFG HIJKLMNO
";
    let v = keys(text);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].session_id, 0x0000e80000000005);
    assert_eq!(bytes(&v[0].c2s)[0], 0x10);
    assert_eq!(bytes(&v[0].s2c)[0], 0x20);
    assert_eq!(v[1].session_id, 0x0000e80000000006);
    // Read from the server's point of view: it decrypts client-to-server traffic.
    assert_eq!(bytes(&v[1].c2s)[0], 0x30);
    assert_eq!(bytes(&v[1].s2c)[0], 0x40);
    assert!(v[1].session_key.is_none());
}

// ---- Wireshark smb2_seskey_list ----

/// Rows of ../shared/corpus/smb-keys.tsv: (session_id_wire, session_id_u64, session_key,
/// c2s_key, s2c_key).
const TSV_ROWS: &[(&str, u64, &str, &str, &str)] = &[
    (
        "1900009c003c0000",
        0x00003c009c000019,
        "9a9ea16a0cdbeb6064772318073f172f",
        "bff985870e81784d533fdc09497b8eab",
        "8be6cc53d4beba29387e69aef035d497",
    ),
    (
        "d6fdb96d00000000",
        0x000000006db9fdd6,
        "6b559c2e60519e344581d086a6d3d050",
        "014fccd4a53554bf5b54b27a32512b35fca262b90e088a5efa7d6c952418578b",
        "1d34170138a77dac4abbe0149253c8b977a71f399081cda6cbaf62359670c1c5",
    ),
    (
        "cf671ad300000000",
        0x00000000d31a67cf,
        "5102c65b8aa67ea7fd7884433b46ede1",
        "-",
        "-",
    ),
];

/// The two UAT records the corpus documents for a row: session key only, and cipher keys
/// only (`sesid,"",s2c,c2s`).
fn uat_lines(wire: &str, seskey: &str, c2s: &str, s2c: &str) -> Vec<String> {
    let mut v = vec![format!("{wire},{seskey},\"\",\"\"")];
    if c2s != "-" {
        v.push(format!("{wire},\"\",{s2c},{c2s}"));
    }
    v
}

fn check_uat_row(wire: &str, id: u64, seskey: &str, c2s: &str, s2c: &str) {
    for line in uat_lines(wire, seskey, c2s, s2c) {
        let v = keys(&line);
        assert_eq!(v.len(), 1, "{line}");
        assert_eq!(v[0].session_id, id, "{line}");
    }
    let v = keys(&uat_lines(wire, seskey, c2s, s2c).join("\n"));
    assert_eq!(v.len(), 1);
    assert_eq!(bytes(&v[0].session_key), hex(seskey));
    if c2s != "-" {
        assert_eq!(bytes(&v[0].c2s), hex(c2s));
        assert_eq!(bytes(&v[0].s2c), hex(s2c));
    }
}

#[test]
fn uat_records_from_smb_keys_tsv() {
    for &(wire, id, seskey, c2s, s2c) in TSV_ROWS {
        check_uat_row(wire, id, seskey, c2s, s2c);
    }
}

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("SMBSCOPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: corpus not found at {} (set SMBSCOPE_CORPUS)",
            dir.display()
        );
        None
    }
}

#[test]
fn uat_records_from_every_row_of_the_corpus_tsv() {
    let Some(dir) = corpus() else { return };
    let tsv = read(&dir.join("smb-keys.tsv"));
    let mut rows = 0;
    for line in tsv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t"))
    {
        let f: Vec<&str> = line.split('\t').collect();
        assert!(f.len() >= 10, "{line}");
        let id = u64::from_str_radix(f[2].trim_start_matches("0x"), 16).expect("u64 column");
        check_uat_row(f[1], id, f[3], f[8], f[9]);
        rows += 1;
    }
    assert!(rows >= 9, "{rows} rows");
}

#[test]
fn uat_quoting_and_tshark_prefix() {
    let want = keys("1900009c003c0000,9a9ea16a0cdbeb6064772318073f172f,,");
    for line in [
        "uat:smb2_seskey_list:1900009c003c0000,9a9ea16a0cdbeb6064772318073f172f,\"\",\"\"",
        "\"1900009c003c0000\",\"9a9ea16a0cdbeb6064772318073f172f\",\"\",\"\"",
        " 1900009C003C0000 , \"9A9EA16A0CDBEB6064772318073F172F\" , \"\" , \"\" ",
    ] {
        let mut v = keys(line);
        v[0].source = want[0].source.clone();
        assert_eq!(v, want, "{line}");
    }
    assert_eq!(want[0].session_id, 0x00003c009c000019);
}

// ---- smbscope's own format ----

#[test]
fn plain_format_fields_in_any_order() {
    let text = "\
session=0x0000400000000039 key=e79161ded03bda1449b2c8e58f753953
s2c=b02f5de25e0562075c3dc329fa2aa396   c2s=7201623a31754e6581864581209dd3d2\tsession=0x400000000039 # tail
session=wire:3900000000400000 signing=0c758dc61f1c8f65d1b1cbea55390c96
session=0x1 key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
";
    let v = keys(text);
    assert_eq!(v.len(), 2);
    let k = &v[0];
    assert_eq!(k.session_id, 0x0000400000000039);
    assert_eq!(k.source, "t.keys:1");
    assert_eq!(
        bytes(&k.session_key),
        hex("e79161ded03bda1449b2c8e58f753953")
    );
    assert_eq!(bytes(&k.s2c), hex("b02f5de25e0562075c3dc329fa2aa396"));
    assert_eq!(bytes(&k.c2s), hex("7201623a31754e6581864581209dd3d2"));
    assert_eq!(bytes(&k.signing), hex("0c758dc61f1c8f65d1b1cbea55390c96"));
    assert_eq!(v[1].session_id, 1);
    assert_eq!(bytes(&v[1].session_key).len(), 32);
}

#[test]
fn mixed_format_file_merges_by_session() {
    let samba = read(&captures().join("smb311-sign-gmac.keys"));
    let text = format!(
        "# all three formats\n\n{samba}\
         1900009c003c0000,9a9ea16a0cdbeb6064772318073f172f,\"\",\"\"\n\
         session=0x0000000066318380 key=2843B20F6EAD3F9158736898C60D114C\n\
         session=0x00003c009c000019 c2s=bff985870e81784d533fdc09497b8eab\n\
         uat:smb2_seskey_list:1900009c003c0000,\"\",8be6cc53d4beba29387e69aef035d497,\"\"\n"
    );
    let v = keys(&text);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].session_id, 0x66318380);
    assert_eq!(v[0].source, "t.keys:4");
    assert!(v[0].c2s.is_some() && v[0].signing.is_some());
    let w = &v[1];
    assert_eq!(w.session_id, 0x00003c009c000019);
    assert_eq!(
        bytes(&w.session_key),
        hex("9a9ea16a0cdbeb6064772318073f172f")
    );
    assert_eq!(bytes(&w.c2s), hex("bff985870e81784d533fdc09497b8eab"));
    assert_eq!(bytes(&w.s2c), hex("8be6cc53d4beba29387e69aef035d497"));
}

// ---- errors ----

/// Checks the line number and that no hex run of the file's keys leaks into the message.
fn assert_error_at(text: &str, line: usize, needle: &str) {
    let e = key_err(text);
    assert_eq!(e.line, line, "{e}");
    assert!(e.reason.contains(needle), "{e}");
    let shown = e.to_string();
    assert!(shown.starts_with(&format!("t.keys:{line}: ")), "{shown}");
    for tok in text.split(|c: char| !c.is_ascii_hexdigit()) {
        if tok.len() >= 6 {
            assert!(
                !shown
                    .to_ascii_lowercase()
                    .contains(&tok.to_ascii_lowercase()),
                "{shown}"
            );
        }
    }
}

#[test]
fn errors_name_the_line_and_never_the_key() {
    let ok = "session=0x1 key=00112233445566778899aabbccddeeff\n";
    assert_error_at(
        &format!("{ok}\nsession=0x2 key=00112233445566778899aabbccddeeZZ\n"),
        3,
        "not hex",
    );
    assert_error_at(
        &format!("# c\n{ok}session=0x2 key=00112233445566778899aabbccddee\n"),
        3,
        "15 bytes",
    );
    assert_error_at(
        &format!("{ok}session=0x2 signing={}\n", "ab".repeat(32)),
        2,
        "signing key is 32",
    );
    assert_error_at(&format!("{ok}session=0x2 c2s=abc\n"), 2, "odd number");
    assert_error_at(
        &format!("{ok}1900009c003c0000,9a9ea16a0cdbeb6064772318073f172f,\"\"\n"),
        2,
        "3 fields",
    );
    assert_error_at(
        &format!("{ok}{ok}this is not a key 9a9ea16a0cdbeb6064772318073f172f\n"),
        3,
        "not a key line",
    );
    assert_error_at(
        "1900009c003c,9a9ea16a0cdbeb6064772318073f172f,,\n",
        1,
        "8 wire bytes",
    );
    assert_error_at(
        "0x1900009c003c0000,9a9ea16a0cdbeb6064772318073f172f,,\n",
        1,
        "16 hex",
    );
    assert_error_at("1900009c003c0000,,,\n", 1, "no key");
    assert_error_at(
        "session=1234 key=9a9ea16a0cdbeb6064772318073f172f\n",
        1,
        "session= takes",
    );
    assert_error_at(
        "session=0x12345678123456789 key=9a9ea16a0cdbeb6064772318073f172f\n",
        1,
        "1 to 16",
    );
    assert_error_at("key=9a9ea16a0cdbeb6064772318073f172f\n", 1, "no session=");
    assert_error_at(
        "session=0x1 foo=9a9ea16a0cdbeb6064772318073f172f\n",
        1,
        "unknown field",
    );
    assert_error_at("session=0x1\n", 1, "no key");
    assert_error_at(
        "session=0x1 key=9a9ea16a0cdbeb6064772318073f172f\nsession=0x1 key=9a9ea16a0cdbeb6064772318073f1700\n",
        2,
        "differs from the one given at line 1",
    );
    assert_error_at("uat:tls_keys:abc\n", 1, "smb2_seskey_list");
}

#[test]
fn samba_dump_errors() {
    let full = read(&captures().join("smb311-enc-aes256gcm.keys"));
    // A 32-byte key whose [0010] line is missing is 16 bytes: fine for ServerIn. Cut the
    // session id short instead.
    let cut = full.replace("EB D2 FF 69 00 00 00 00", "EB D2 FF 69 00 00 00   ");
    assert_error_at(&cut, 2, "Session Id is 7 bytes");
    // A Signing Key with a continuation line is 32 bytes.
    let long = full.replace(
        "Signing Key   [0000] A5 AE BC 18 D8 91 6B B7   F2 BA D8 ED 09 40 09 B1   ......k. .....@..\n",
        "Signing Key   [0000] A5 AE BC 18 D8 91 6B B7   F2 BA D8 ED 09 40 09 B1   ......k. .....@..\n\
         [0010] A5 AE BC 18 D8 91 6B B7   F2 BA D8 ED 09 40 09 B1   ......k. .....@..\n",
    );
    assert_error_at(&long, 4, "signing key is 32 bytes");
    let orphan = "Session Key   [0000] 16 23 2F F8 0E 07 B5 CD   B6 36 19 0D BF 0E 89 A7   .#/..... .6......\n";
    assert_error_at(orphan, 1, "before any Session Id");
    let no_keys =
        "Session Id    [0000] EB D2 FF 69 00 00 00 00                             ...i....\n";
    assert_error_at(no_keys, 1, "has no keys");
    let bad = "Session Id    [0000] EB D2 FF 69 00 00 00 00                             ...i....\n\
               Session Key   [0010] 16 23 2F F8 0E 07 B5 CD   B6 36 19 0D BF 0E 89 A7   .#/..... .6......\n";
    assert_error_at(bad, 2, "[0000]");
    let twice = format!(
        "{full}Session Key   [0000] 16 23 2F F8 0E 07 B5 CD   B6 36 19 0D BF 0E 89 A7   .#/..... .6......\n"
    );
    assert_error_at(&twice, 10, "given twice");
}

/// xorshift64*: deterministic noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn arbitrary_input_never_panics() {
    const PIECES: &[&str] = &[
        "0",
        "f",
        "A",
        "9",
        " ",
        "  ",
        "   ",
        "\t",
        "\n",
        "\r",
        ",",
        "\"",
        "=",
        ":",
        "#",
        "[",
        "]",
        "\\",
        "@",
        "$NT$",
        "[0000]",
        "[0010]",
        "[001",
        "0x",
        "wire:",
        "uat:",
        "smb2_seskey_list:",
        "session=",
        "key=",
        "c2s=",
        "s2c=",
        "signing=",
        "Session Id",
        "Session Key",
        "ServerIn Key",
        "App Key",
        "Signing Key",
        "debug encryption",
        "[2026/",
        "é",
        "ß",
        "\u{feff}",
        "00 11 ",
        "aa bb cc dd ee ff 00 11   22 33 44 55 66 77 88 99   ",
    ];
    let seeds = [
        read(&captures().join("smb311-enc-aes256gcm.keys")),
        "1900009c003c0000,9a9ea16a0cdbeb6064772318073f172f,\"\",\"\"\n".to_string(),
        "session=0x1 key=00112233445566778899aabbccddeeff c2s=00112233445566778899aabbccddeeff\n"
            .to_string(),
        "SMBSCOPE\\bob:Bob-Pässwörd!9\nalice@X:$NT$a4f49c406510bdcab6824ee7c30fd852\n".to_string(),
    ];
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    for round in 0..4000 {
        let mut s = if round % 2 == 0 {
            seeds[rng.below(seeds.len())].clone()
        } else {
            String::new()
        };
        for _ in 0..rng.below(40) {
            let piece = PIECES[rng.below(PIECES.len())];
            // Insert at a char boundary, or cut the text there.
            let mut at = rng.below(s.len() + 1);
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            if rng.below(8) == 0 {
                s.truncate(at);
            } else {
                s.insert_str(at, piece);
            }
        }
        let _ = parse_keys(&s, "fuzz");
        let _ = parse_credentials(&s, "fuzz");
    }
}

// ---- credentials ----

#[test]
fn every_capture_credentials_file_parses() {
    let files = files_with_ext(&captures(), "credentials");
    assert!(files.len() >= 20);
    for p in files {
        let v = parse_credentials(&read(&p), &p.display().to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.len(), 1, "{}", p.display());
        assert_eq!(v[0].domain.as_deref(), Some("SMBSCOPE"));
        assert!(v[0].user == "alice" || v[0].user == "bob");
    }
}

#[test]
fn non_ascii_password_round_trips() {
    let v = parse_credentials(&read(&captures().join("bob-nonascii.credentials")), "b")
        .expect("parses");
    assert_eq!(v[0].user, "bob");
    let CredentialSecret::Password(p) = &v[0].secret else {
        panic!("a password")
    };
    assert_eq!(p.as_bytes(), "Bob-Pässwörd!9".as_bytes());
}

#[test]
fn credential_forms() {
    let text = "\u{feff}# accounts\r\n\
                \r\n\
                DOM\\u1:pa:ss word  \r\n\
                u2@Realm.Example:\r\n\
                u3:$NT$A4F49C406510BDCAB6824EE7C30FD852\n\
                  DOM \\ u4 : x\n";
    let v = parse_credentials(text, "c").expect("parses");
    assert_eq!(v.len(), 4);
    assert_eq!(
        (v[0].domain.as_deref(), v[0].user.as_str()),
        (Some("DOM"), "u1")
    );
    assert_eq!(
        v[0].secret,
        CredentialSecret::Password(Secret::from(&b"pa:ss word  "[..]))
    );
    assert_eq!(
        (v[1].domain.as_deref(), v[1].user.as_str()),
        (Some("Realm.Example"), "u2")
    );
    assert_eq!(v[1].secret, CredentialSecret::Password(Secret::default()));
    assert_eq!(v[2].domain, None);
    let nt: [u8; 16] = hex("a4f49c406510bdcab6824ee7c30fd852")
        .try_into()
        .expect("16");
    assert_eq!(v[2].secret, CredentialSecret::NtHash(nt));
    assert_eq!(
        (v[3].domain.as_deref(), v[3].user.as_str()),
        (Some("DOM"), "u4")
    );
    assert_eq!(
        v[3].secret,
        CredentialSecret::Password(Secret::from(&b" x"[..]))
    );
    assert_eq!(v[0].to_string(), "DOM\\u1");
}

#[test]
fn credential_errors_name_the_line() {
    for (text, line, needle) in [
        (
            "a:b\nno colon here\n",
            2,
            "expected [DOMAIN\\]USER:PASSWORD",
        ),
        ("# x\nDOM\\:secretpw\n", 2, "no user name"),
        ("\\u:secretpw\n", 1, "empty domain"),
        ("u:$NT$a4f49c406510bdcab6824ee7c30fd8\n", 1, "32 hex digits"),
        (
            "u:$NT$a4f49c406510bdcab6824ee7c30fd85zz\n",
            1,
            "32 hex digits",
        ),
    ] {
        let e = parse_credentials(text, "c").expect_err(text);
        assert_eq!(e.line, line, "{e}");
        assert!(e.reason.contains(needle), "{e}");
        assert!(
            !e.to_string().contains("secretpw") && !e.to_string().contains("a4f49c"),
            "{e}"
        );
    }
}

// ---- redaction ----

#[test]
fn debug_and_display_never_show_secrets() {
    let text = "session=0x1 key=0123456789abcdef0123456789abcdef c2s=fedcba9876543210fedcba9876543210 \
                s2c=00112233445566778899aabbccddeeff signing=ffeeddccbbaa99887766554433221100\n";
    let k = keys(text);
    let creds = parse_credentials(
        "D\\u:Sup3rSecretPw\nv:$NT$a4f49c406510bdcab6824ee7c30fd852\n",
        "c",
    )
    .expect("parses");
    let mut store = KeyStore::default();
    store.add_keys(k.clone());
    store.add_credentials(creds.clone());
    let shown = [
        format!("{:?}", k),
        format!("{:#?}", k),
        format!("{:?} {}", k[0].c2s, bytes(&k[0].c2s).len()),
        format!(
            "{} {:?}",
            k[0].session_key.as_ref().expect("key"),
            k[0].signing
        ),
        format!("{:?} {:#?}", creds, creds),
        format!("{:?} {}", creds[0].secret, creds[0]),
        format!("{:?}", store),
    ]
    .join("\n");
    for secret in [
        "0123456789abcdef",
        "fedcba9876543210",
        "00112233445566778899",
        "ffeeddccbbaa9988",
        "Sup3rSecretPw",
        "a4f49c406510bdcab6824ee7c30fd852",
        "164, 244",
        "0xa4",
        "[1, 35",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("<redacted 16 bytes>"), "{shown}");
    assert_eq!(
        format!("{}", Secret::from(&[1u8, 2, 3][..])),
        "<redacted 3 bytes>"
    );
    assert_eq!(
        format!("{:?}", Secret::from(&[1u8, 2, 3][..])),
        "<redacted 3 bytes>"
    );
}

// ---- the key store ----

#[test]
fn store_merges_sessions_first_added_wins() {
    let mut s = KeyStore::default();
    assert!(s.is_empty());
    s.add_keys(keys("session=0x5 key=00112233445566778899aabbccddeeff\n"));
    s.add_keys(keys(
        "session=0x5 key=ffeeddccbbaa99887766554433221100 c2s=00000000000000000000000000000001\n\
         session=0x6 s2c=00000000000000000000000000000002\n",
    ));
    assert_eq!(s.len_sessions(), 2);
    assert!(!s.is_empty());
    let k = s.session(5).expect("session 5");
    assert_eq!(
        bytes(&k.session_key),
        hex("00112233445566778899aabbccddeeff")
    );
    assert_eq!(bytes(&k.c2s)[15], 1);
    assert!(s.session(6).is_some() && s.session(7).is_none());
    assert_eq!(s.sessions().len(), 2);
}

#[test]
fn store_finds_credentials_by_user_and_domain() {
    let mut s = KeyStore::default();
    s.add_credentials(
        parse_credentials(
            "SMBSCOPE\\alice:a1\nalice:a2\nOTHER\\alice:a3\nalice@smbscope.local:a4\nSMBSCOPE\\bob:b1\nÉMILE:e1\n",
            "c",
        )
        .expect("parses"),
    );
    assert!(!s.is_empty() && s.len_sessions() == 0);
    let pw = |c: &Credential| match &c.secret {
        CredentialSecret::Password(p) => String::from_utf8(p.as_bytes().to_vec()).expect("utf-8"),
        _ => panic!("password"),
    };
    let found: Vec<String> = s.credentials_for("ALICE", "smbscope").map(pw).collect();
    assert_eq!(found, ["a1", "a2", "a4"]);
    let found: Vec<String> = s.credentials_for("alice", "").map(pw).collect();
    assert_eq!(found, ["a2"]);
    let found: Vec<String> = s.credentials_for("émile", "ANY").map(pw).collect();
    assert_eq!(found, ["e1"]);
    assert_eq!(s.credentials().len(), 6);
}

// ---- files ----

#[cfg(unix)]
#[test]
fn group_or_world_readable_files_warn() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("smbscope-keys-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join("x.keys");
    std::fs::write(&p, "session=0x1 key=00112233445566778899aabbccddeeff\n").expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (text, warn) = read_secret_file(&p).expect("reads");
    let warn = warn.expect("0644 warns");
    assert!(
        warn.contains("readable by others") && warn.contains("chmod 600"),
        "{warn}"
    );
    assert!(warn.contains(&p.display().to_string()));
    assert_eq!(keys(&text).len(), 1);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert_eq!(read_secret_file(&p).expect("reads").1, None);

    std::fs::write(&p, b"ok\n\xff\xfe\n").expect("write");
    let e = read_secret_file(&p).expect_err("not utf-8");
    assert_eq!(e.line, 2);
    let e = read_secret_file(&dir.join("missing")).expect_err("missing");
    assert_eq!(e.line, 0);
    assert!(e.to_string().contains("missing: cannot open"), "{e}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
