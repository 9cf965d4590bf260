//! DCE/RPC connection-oriented PDUs as they travel over SMB named pipes (WRITE, READ and
//! FSCTL_PIPE_TRANSCEIVE data): just enough of the header, BIND and REQUEST to tell which
//! interface a client bound to and which operations it called ([C706] §12.6, [MS-RPCE] §2.2.2).
//!
//! [C706]: https://pubs.opengroup.org/onlinepubs/9629399/chap12.htm
//! [MS-RPCE]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rpce/

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u8_at(d: &[u8], at: usize) -> Option<u8> {
    d.get(at).copied()
}

/// PDU types used here (C706 §12.6.4.1).
pub mod ptype {
    pub const REQUEST: u8 = 0;
    pub const BIND: u8 = 11;
    pub const ALTER_CONTEXT: u8 = 14;
}

/// What one PDU says about the calls on its pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    /// BIND or ALTER_CONTEXT: the abstract syntax (interface UUID, as 16 wire bytes) of each
    /// presentation context, with its context id.
    Bind(Vec<(u16, [u8; 16])>),
    /// REQUEST: the context id and the operation number.
    Request { context_id: u16, opnum: u16 },
}

/// Common header: version 5.0/5.1, the PDU type, little-endian data representation (the
/// only one Windows and Samba send; big-endian PDUs are not read).
const HEADER: usize = 16;

/// Parses the PDU at the start of `data`; `None` when it is not a BIND, ALTER_CONTEXT or
/// REQUEST in little-endian representation, or is cut short.
pub fn parse(data: &[u8]) -> Option<Pdu> {
    if data.len() < HEADER || data[0] != 5 || data[1] > 1 {
        return None;
    }
    // drep[0] bit 4: integer representation, 1 = little-endian.
    if data[4] & 0x10 == 0 {
        return None;
    }
    match data[2] {
        ptype::REQUEST => {
            // alloc_hint (4), p_cont_id (2), opnum (2).
            let context_id = u16_at(data, HEADER + 4)?;
            let opnum = u16_at(data, HEADER + 6)?;
            Some(Pdu::Request { context_id, opnum })
        }
        ptype::BIND | ptype::ALTER_CONTEXT => {
            // max_xmit_frag (2), max_recv_frag (2), assoc_group_id (4), n_context_elem (1),
            // reserved (3), then p_cont_elem_t: p_cont_id (2), n_transfer_syn (1),
            // reserved (1), abstract_syntax (16 + 4), transfer_syntaxes (20 each).
            let n = u8_at(data, HEADER + 8)?;
            let mut at = HEADER + 12;
            let mut out = Vec::new();
            for _ in 0..n.min(16) {
                let id = u16_at(data, at)?;
                let transfers = usize::from(u8_at(data, at + 2)?);
                let uuid: [u8; 16] = data.get(at + 4..at + 20)?.try_into().ok()?;
                out.push((id, uuid));
                at += 4 + 20 + 20 * transfers;
            }
            Some(Pdu::Bind(out))
        }
        _ => None,
    }
}

/// A UUID from its wire form (the first three fields little-endian), in the usual text form.
pub fn uuid_string(u: &[u8; 16]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        u[3],
        u[2],
        u[1],
        u[0],
        u[5],
        u[4],
        u[7],
        u[6],
        u[8],
        u[9],
        u[10],
        u[11],
        u[12],
        u[13],
        u[14],
        u[15]
    )
}

/// (UUID, name, [(opnum, operation)]).
type Interface = (&'static str, &'static str, &'static [(u16, &'static str)]);

/// Interfaces that enumeration tools use, by UUID: (name, [(opnum, operation)]).
/// UUIDs and opnums from [MS-SRVS] §1.9/§3.1.4, [MS-SAMR] §1.9/§3.1.5, [MS-LSAT] and
/// [MS-LSAD] §1.9/§3.1.4, [MS-NRPC] §1.9, [MS-WKST] §1.9.
static INTERFACES: &[Interface] = &[
    (
        "4b324fc8-1670-01d3-1278-5a47bf6ee188",
        "srvsvc",
        &[
            (8, "NetrConnectionEnum"),
            (9, "NetrFileEnum"),
            (12, "NetrSessionEnum"),
            (15, "NetrShareEnum"),
            (16, "NetrShareGetInfo"),
            (21, "NetrServerGetInfo"),
            (36, "NetrShareEnumSticky"),
        ],
    ),
    (
        "12345778-1234-abcd-ef00-0123456789ac",
        "samr",
        &[
            (0, "SamrConnect"),
            (1, "SamrCloseHandle"),
            (5, "SamrLookupDomainInSamServer"),
            (6, "SamrEnumerateDomainsInSamServer"),
            (7, "SamrOpenDomain"),
            (8, "SamrQueryInformationDomain"),
            (11, "SamrEnumerateGroupsInDomain"),
            (13, "SamrEnumerateUsersInDomain"),
            (15, "SamrEnumerateAliasesInDomain"),
            (17, "SamrLookupNamesInDomain"),
            (18, "SamrLookupIdsInDomain"),
            (34, "SamrOpenUser"),
            (36, "SamrQueryInformationUser"),
            (39, "SamrGetGroupsForUser"),
            (40, "SamrQueryDisplayInformation"),
            (57, "SamrConnect2"),
            (62, "SamrConnect4"),
            (64, "SamrConnect5"),
        ],
    ),
    (
        "12345778-1234-abcd-ef00-0123456789ab",
        "lsarpc",
        &[
            (0, "LsarClose"),
            (6, "LsarOpenPolicy"),
            (7, "LsarQueryInformationPolicy"),
            (14, "LsarLookupNames"),
            (15, "LsarLookupSids"),
            (44, "LsarOpenPolicy2"),
            (45, "LsarGetUserName"),
            (46, "LsarQueryInformationPolicy2"),
            (57, "LsarLookupSids2"),
            (58, "LsarLookupNames2"),
            (68, "LsarLookupNames3"),
            (76, "LsarLookupSids3"),
            (77, "LsarLookupNames4"),
        ],
    ),
    ("12345678-1234-abcd-ef00-01234567cffb", "netlogon", &[]),
    (
        "6bffd098-a112-3610-9833-46c3f87e345a",
        "wkssvc",
        &[(2, "NetrWkstaUserEnum")],
    ),
];

/// The interface name of a UUID (wire form), if it is one enumeration tools use.
pub fn interface_name(u: &[u8; 16]) -> Option<&'static str> {
    let s = uuid_string(u);
    INTERFACES
        .iter()
        .find(|(uuid, _, _)| *uuid == s)
        .map(|(_, name, _)| *name)
}

/// The operation name of `opnum` on the interface called `interface`.
pub fn operation_name(interface: &str, opnum: u16) -> Option<&'static str> {
    INTERFACES
        .iter()
        .find(|(_, name, _)| *name == interface)
        .and_then(|(_, _, ops)| ops.iter().find(|(n, _)| *n == opnum))
        .map(|(_, op)| *op)
}

/// Operations that list or resolve accounts, shares or sessions: the ones an attacker runs on
/// a null session ("enumeration"), as opposed to binding or closing handles.
pub fn is_enumeration(interface: &str, opnum: u16) -> bool {
    matches!(
        (interface, opnum),
        ("srvsvc", 8 | 9 | 12 | 15 | 36)
            | ("samr", 6 | 11 | 13 | 15 | 17 | 18 | 40)
            | ("lsarpc", 14 | 15 | 57 | 58 | 68 | 76 | 77)
            | ("wkssvc", 2)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BIND to samr (one context, NDR transfer syntax) and a REQUEST, as rpcclient sends
    /// them (layout from C706 §12.6.4.3 and §12.6.4.9).
    #[test]
    fn bind_and_request() {
        let samr = [
            0x78, 0x57, 0x34, 0x12, 0x34, 0x12, 0xcd, 0xab, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67,
            0x89, 0xac,
        ];
        assert_eq!(uuid_string(&samr), "12345778-1234-abcd-ef00-0123456789ac");
        assert_eq!(interface_name(&samr), Some("samr"));
        let mut bind = vec![5, 0, ptype::BIND, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0];
        bind.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0]);
        bind.extend_from_slice(&[0, 0, 1, 0]);
        bind.extend_from_slice(&samr);
        bind.extend_from_slice(&[1, 0, 0, 0]);
        bind.extend_from_slice(&[0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11]);
        bind.extend_from_slice(&[0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0]);
        assert_eq!(parse(&bind), Some(Pdu::Bind(vec![(0, samr)])));
        // Cut inside the context: nothing.
        assert_eq!(parse(&bind[..40]), None);

        let mut req = vec![
            5,
            0,
            ptype::REQUEST,
            3,
            0x10,
            0,
            0,
            0,
            24,
            0,
            0,
            0,
            2,
            0,
            0,
            0,
        ];
        req.extend_from_slice(&[0, 0, 0, 0, 0, 0, 13, 0]);
        assert_eq!(
            parse(&req),
            Some(Pdu::Request {
                context_id: 0,
                opnum: 13
            })
        );
        assert_eq!(
            operation_name("samr", 13),
            Some("SamrEnumerateUsersInDomain")
        );
        assert!(is_enumeration("samr", 13) && !is_enumeration("samr", 64));
        // Big-endian, another version, or too short: not read.
        req[4] = 0;
        assert_eq!(parse(&req), None);
        req[4] = 0x10;
        req[0] = 4;
        assert_eq!(parse(&req), None);
        assert_eq!(parse(&[5, 0, 0]), None);
    }
}
