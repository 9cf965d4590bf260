use super::*;

/// A 0x0502 keytab with one entry, built field by field (MIT keytab_file_format.rst).
fn v2_entry(
    realm: &str,
    comps: &[&str],
    kvno8: u8,
    enctype: u16,
    key: &[u8],
    kvno32: Option<u32>,
) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&(comps.len() as u16).to_be_bytes());
    e.extend_from_slice(&(realm.len() as u16).to_be_bytes());
    e.extend_from_slice(realm.as_bytes());
    for c in comps {
        e.extend_from_slice(&(c.len() as u16).to_be_bytes());
        e.extend_from_slice(c.as_bytes());
    }
    e.extend_from_slice(&1u32.to_be_bytes()); // KRB5_NT_PRINCIPAL
    e.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    e.push(kvno8);
    e.extend_from_slice(&enctype.to_be_bytes());
    e.extend_from_slice(&(key.len() as u16).to_be_bytes());
    e.extend_from_slice(key);
    if let Some(v) = kvno32 {
        e.extend_from_slice(&v.to_be_bytes());
    }
    let mut rec = (e.len() as u32).to_be_bytes().to_vec();
    rec.extend_from_slice(&e);
    rec
}

#[test]
fn v2_entries_holes_and_kvno32() {
    let mut file = vec![5, 2];
    file.extend(v2_entry(
        "EXAMPLE.COM",
        &["cifs", "fs1.example.com"],
        3,
        18,
        &[7; 32],
        None,
    ));
    // A hole of 10 bytes.
    file.extend_from_slice(&(-10i32).to_be_bytes());
    file.extend_from_slice(&[0; 10]);
    file.extend(v2_entry(
        "EXAMPLE.COM",
        &["cifs", "fs1.example.com"],
        255,
        23,
        &[9; 16],
        Some(300),
    ));
    let mut kt = Keytab::default();
    assert_eq!(kt.add(&file), Ok(2));
    let e = &kt.entries[0];
    assert_eq!(e.principal(), "cifs/fs1.example.com@EXAMPLE.COM");
    assert_eq!((e.kvno, e.enctype, e.key().len()), (3, 18, 32));
    assert_eq!((kt.entries[1].kvno, kt.entries[1].enctype), (300, 23));
    let comps = vec!["CIFS".to_owned(), "FS1.example.com".to_owned()];
    assert_eq!(kt.find("example.com", &comps, 23).count(), 1);
    // The key never shows in Debug.
    let dbg = format!("{kt:?}");
    assert!(
        dbg.contains("aes256-cts-hmac-sha1-96") && !dbg.contains("[7, 7"),
        "{dbg}"
    );
    // Every cut is an error or a shorter keytab, never a panic.
    for cut in 0..file.len() {
        let mut k = Keytab::default();
        let _ = k.add(&file[..cut]);
    }
    assert!(Keytab::default().add(b"\x05\x07").is_err());
    assert!(Keytab::default().add(b"hello").is_err());
}

#[test]
fn v1_is_little_endian_and_counts_the_realm() {
    let mut e = Vec::new();
    e.extend_from_slice(&2u16.to_le_bytes()); // realm + 1 component
    e.extend_from_slice(&1u16.to_le_bytes());
    e.push(b'R');
    e.extend_from_slice(&4u16.to_le_bytes());
    e.extend_from_slice(b"host");
    e.extend_from_slice(&0u32.to_le_bytes());
    e.push(2);
    e.extend_from_slice(&17u16.to_le_bytes());
    e.extend_from_slice(&16u16.to_le_bytes());
    e.extend_from_slice(&[1; 16]);
    let mut file = vec![5, 1];
    file.extend_from_slice(&(e.len() as u32).to_le_bytes());
    file.extend_from_slice(&e);
    let mut kt = Keytab::default();
    assert_eq!(kt.add(&file), Ok(1));
    assert_eq!(kt.entries[0].principal(), "host@R");
    assert_eq!((kt.entries[0].kvno, kt.entries[0].enctype), (2, 17));
}

/// Zeek's smb2_krb.keytab (shared corpus): host/phxlabbal821.ds.susq.com@DS.SUSQ.COM, aes256.
#[test]
fn the_corpus_keytab() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/zeek/smb2_krb.keytab");
    let Ok(data) = std::fs::read(&path) else {
        eprintln!("NOTICE: {} not found; skipped", path.display());
        return;
    };
    let mut kt = Keytab::default();
    assert!(kt.add(&data).expect("parses") >= 1);
    let e = &kt.entries[0];
    assert_eq!(e.principal(), "host/phxlabbal821.ds.susq.com@DS.SUSQ.COM");
    assert_eq!(e.enctype, enctype::AES256_CTS_HMAC_SHA1_96);
    assert_eq!(e.key().len(), 32);
}
