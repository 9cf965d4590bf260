//! Posture rules: the registry of every finding smbscope can raise, with its stable id, base
//! severity, matching Windows event, and fix.
//!
//! Detection happens in the engine at the moment a fact becomes known (NEGOTIATE response,
//! SESSION_SETUP response, each message, connection end); this module owns what a finding *means*
//! and how `--require` mandates raise its severity.

use crate::event::Severity;

/// Every rule smbscope knows. The order is the registry order ([`RULES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuleId {
    Smb1,
    SigningNotRequiredServer,
    SigningNotRequiredClient,
    SessionUnsigned,
    SessionUnencrypted,
    Guest,
    Anonymous,
    NtlmV1,
    DialectLegacy,
    AuthByIp,
    NtlmFallback,
    KerberosWeakEnctype,
    EncryptionRefused,
    SignatureInvalidStatus,
    LogonFailed,
    SignatureInvalid,
    SignatureMissing,
    DecryptFailed,
    UnencryptedWhenRequired,
    QuicCertIpSan,
    QuicCertExpiring,
    QuicCertExpired,
    Tcp445Exposed,
    QuicNonDefaultPort,
    LogonBruteforce,
    LogonSpray,
    LogonLockout,
    LogonSuccessAfterFailures,
    EnumNullSession,
}

/// What a rule means. One entry per [`RuleId`].
#[derive(Debug)]
pub struct Rule {
    pub id: RuleId,
    /// The stable id printed in reports and JSON.
    pub name: &'static str,
    /// For two-sided rules: which side this entry covers.
    pub side: Option<&'static str>,
    pub severity: Severity,
    /// The Windows event that matches (see SPECS.md §1), if any.
    pub event_id: Option<u32>,
    /// Short title for reports.
    pub title: &'static str,
    /// The fix: Windows setting/cmdlet, then the Samba option.
    pub fix: &'static str,
    /// Whether the finding is about a session (true) or the whole connection (false).
    pub per_session: bool,
}

/// Client mandates from the Windows documentation (`--require signing,encryption`):
/// `Set-SmbClientConfiguration -RequireSecuritySignature $true` and `-RequireEncryption $true`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mandates {
    pub signing: bool,
    pub encryption: bool,
}

impl Mandates {
    /// Parses a comma-separated list of `signing`, `encryption`.
    pub fn parse(s: &str) -> Result<Mandates, String> {
        let mut m = Mandates::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "signing" => m.signing = true,
                "encryption" => m.encryption = true,
                other => {
                    return Err(format!(
                        "unknown mandate '{other}' (expected: signing, encryption)"
                    ));
                }
            }
        }
        Ok(m)
    }
}

/// The registry, in [`RuleId`] order.
pub static RULES: &[Rule] = &[
    Rule {
        id: RuleId::Smb1,
        name: "smb1",
        side: None,
        severity: Severity::High,
        // SMBClient 32000/32002: SMB1 response received (Audit channel).
        event_id: Some(32002),
        title: "SMB1 in use",
        fix: "Disable SMB1: Set-SmbServerConfiguration -EnableSMB1Protocol $false and \
              Disable-WindowsOptionalFeature -Online -FeatureName SMB1Protocol; Samba: \
              server min protocol = SMB2_10 (better SMB3_11)",
        per_session: false,
    },
    Rule {
        id: RuleId::SigningNotRequiredServer,
        name: "signing.not_required",
        side: Some("server"),
        severity: Severity::Medium,
        event_id: None,
        title: "Server does not require signing",
        fix: "Set-SmbServerConfiguration -RequireSecuritySignature $true (GPO: Microsoft network \
              server: Digitally sign communications (always)); Samba: server signing = mandatory",
        per_session: false,
    },
    Rule {
        id: RuleId::SigningNotRequiredClient,
        name: "signing.not_required",
        side: Some("client"),
        severity: Severity::Low,
        event_id: None,
        title: "Client does not require signing",
        fix: "Set-SmbClientConfiguration -RequireSecuritySignature $true (GPO: Microsoft network \
              client: Digitally sign communications (always)); Samba: client signing = required",
        per_session: false,
    },
    Rule {
        id: RuleId::SessionUnsigned,
        name: "session.unsigned",
        side: None,
        severity: Severity::Medium,
        event_id: None,
        title: "Authenticated session sent unsigned messages",
        fix: "Require signing on both sides: Set-SmbServerConfiguration -RequireSecuritySignature \
              $true and Set-SmbClientConfiguration -RequireSecuritySignature $true; Samba: server \
              signing = mandatory, client signing = required",
        per_session: true,
    },
    Rule {
        id: RuleId::SessionUnencrypted,
        name: "session.unencrypted",
        side: None,
        severity: Severity::Low,
        // SMBClient 31999: the server doesn't support encryption (audit), when it can't.
        event_id: None,
        title: "Session traffic is not encrypted",
        fix: "Set-SmbServerConfiguration -EncryptData $true (or Set-SmbShare -EncryptData $true \
              per share), or Set-SmbClientConfiguration -RequireEncryption $true; Samba: server \
              smb encrypt = required",
        per_session: true,
    },
    Rule {
        id: RuleId::Guest,
        name: "guest",
        side: None,
        severity: Severity::High,
        // SMBClient 31022: allowed an insecure guest logon (31997 in the Audit channel).
        event_id: Some(31022),
        title: "Guest logon",
        fix: "Disable insecure guest logons: Set-SmbClientConfiguration -EnableInsecureGuestLogons \
              $false (GPO: Lanman Workstation > Enable insecure guest logons = Disabled); \
              Samba: map to guest = never, and no 'guest ok' shares",
        per_session: true,
    },
    Rule {
        id: RuleId::Anonymous,
        name: "anonymous",
        side: None,
        severity: Severity::Medium,
        event_id: None,
        title: "Anonymous (null) session",
        fix: "Restrict null sessions: GPO Network access: Restrict anonymous access to Named Pipes \
              and Shares = Enabled (RestrictNullSessAccess=1) and Do not allow anonymous \
              enumeration of SAM accounts and shares; Samba: restrict anonymous = 2",
        per_session: true,
    },
    Rule {
        id: RuleId::NtlmV1,
        name: "ntlmv1",
        side: None,
        severity: Severity::High,
        event_id: None,
        title: "NTLMv1 authentication",
        fix: "GPO Network security: LAN Manager authentication level = Send NTLMv2 response only. \
              Refuse LM & NTLM (LmCompatibilityLevel = 5); Samba: ntlm auth = ntlmv2-only, \
              client ntlmv2 auth = yes",
        per_session: true,
    },
    Rule {
        id: RuleId::DialectLegacy,
        name: "dialect.legacy",
        side: None,
        severity: Severity::Low,
        event_id: None,
        title: "Legacy SMB2 dialect",
        fix: "Raise the minimum dialect: Set-SmbServerConfiguration -Smb2DialectMin SMB311 \
              (Windows Server 2025 / Windows 11 24H2) and update old clients; Samba: server min \
              protocol = SMB3_11",
        per_session: false,
    },
    Rule {
        id: RuleId::AuthByIp,
        name: "auth.by_ip",
        side: None,
        severity: Severity::Low,
        event_id: None,
        title: "Client connected by IP address (NTLM instead of Kerberos)",
        fix: "Connect by DNS name (\\\\server.example.com\\share) so Kerberos can be used; \
              Windows 11 24H2 can refuse NTLM: Set-SmbClientConfiguration -BlockNTLM $true",
        per_session: false,
    },
    Rule {
        id: RuleId::NtlmFallback,
        name: "auth.ntlm_fallback",
        side: None,
        severity: Severity::Low,
        event_id: None,
        title: "NTLM used although the server was named by its DNS name",
        fix: "Find why Kerberos failed (no SPN cifs/NAME for the server, no KDC reachable, clock \
              skew, Kerberos disabled on the client); Windows 11 24H2 can refuse NTLM: \
              Set-SmbClientConfiguration -BlockNTLM $true; Samba: client use kerberos = required",
        per_session: true,
    },
    Rule {
        id: RuleId::KerberosWeakEnctype,
        name: "kerberos.rc4",
        side: None,
        severity: Severity::Medium,
        event_id: None,
        title: "Kerberos ticket or session key uses RC4 (or DES)",
        fix: "Allow only AES for Kerberos: GPO Network security: Configure encryption types allowed \
              for Kerberos = AES128/AES256, msDS-SupportedEncryptionTypes = 0x18 on the service \
              account, reset passwords that predate AES keys; on the DC, event 4769 shows the \
              ticket encryption type (0x17 = RC4); Samba: kdc supported enctypes = \
              aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96",
        per_session: true,
    },
    Rule {
        id: RuleId::EncryptionRefused,
        name: "encryption.refused",
        side: None,
        severity: Severity::Low,
        event_id: None,
        title: "Share requires encryption the client's dialect cannot do",
        fix: "Upgrade the client to SMB 3.x; keep Set-SmbServerConfiguration \
              -RejectUnencryptedAccess $true (the default) so such access stays refused",
        per_session: true,
    },
    Rule {
        id: RuleId::SignatureInvalidStatus,
        name: "signature.invalid_status",
        side: None,
        severity: Severity::High,
        // SMBClient 31013 (signing validation failed) / SMBServer 1004.
        event_id: Some(31013),
        title: "Server answered STATUS_INVALID_SIGNATURE",
        fix: "Investigate tampering or a relay between client and server (a signature the server \
              rejected); check for middleboxes that rewrite SMB, and keep signing required",
        per_session: true,
    },
    Rule {
        id: RuleId::LogonFailed,
        name: "logon.failed",
        side: None,
        severity: Severity::Info,
        // SMBServer 551: SMB Session Authentication Failure.
        event_id: Some(551),
        title: "Failed logon",
        fix: "Check the account; repeated failures from one client suggest password guessing \
              (account lockout policy, Samba: bad lockout attempts / fail2ban)",
        per_session: true,
    },
    Rule {
        id: RuleId::SignatureInvalid,
        name: "signature.invalid",
        side: None,
        severity: Severity::High,
        // SMBClient 31013 (signing validation failed) / SMBServer 1004.
        event_id: Some(31013),
        title: "Signatures that do not verify",
        fix: "If every signature of the session fails, check the key or password given to \
              smbscope; if only some fail, messages were altered in transit: look for a relay \
              or a rewriting middlebox, and keep signing required",
        per_session: true,
    },
    Rule {
        id: RuleId::SignatureMissing,
        name: "signature.missing",
        side: None,
        severity: Severity::High,
        event_id: None,
        title: "Unsigned message on a session that requires signing",
        fix: "A peer that requires signing must reject such messages; check for a downgrade or \
              an injected message, and that both sides run RequireSecuritySignature",
        per_session: true,
    },
    Rule {
        id: RuleId::DecryptFailed,
        name: "decrypt.failed",
        side: None,
        severity: Severity::High,
        // SMBClient 31015: failed to decrypt an encrypted SMB message (SMBServer 1009).
        event_id: Some(31015),
        title: "Encrypted messages that fail authentication",
        fix: "If every message fails, check the key or password given to smbscope; otherwise \
              the ciphertext was altered in transit",
        per_session: true,
    },
    Rule {
        id: RuleId::UnencryptedWhenRequired,
        name: "unencrypted.when.required",
        side: None,
        severity: Severity::High,
        // SMBClient 31014 / SMBServer 1003.
        event_id: Some(31014),
        title: "Plaintext message on an encrypted session or share",
        fix: "Keep Set-SmbServerConfiguration -RejectUnencryptedAccess $true and \
              Set-SmbClientConfiguration -RequireEncryption $true; investigate the peer that \
              sent it",
        per_session: true,
    },
    Rule {
        id: RuleId::QuicCertIpSan,
        name: "quic.cert_ip_san",
        side: None,
        severity: Severity::Medium,
        event_id: None,
        title: "SMB over QUIC certificate names an IP address",
        fix: "Issue the SMB over QUIC certificate for the server's DNS name (Subject Alternative \
              Name), map it with New-SmbServerCertificateMapping, and have clients connect by \
              that name",
        per_session: false,
    },
    Rule {
        id: RuleId::QuicCertExpiring,
        name: "quic.cert_expiring",
        side: None,
        severity: Severity::Low,
        event_id: None,
        title: "SMB over QUIC certificate expires within 30 days",
        fix: "Renew the certificate and update the mapping (Set-SmbServerCertificateMapping) \
              before it expires; auto-enrollment avoids outages",
        per_session: false,
    },
    Rule {
        id: RuleId::QuicCertExpired,
        name: "quic.cert_expired",
        side: None,
        severity: Severity::High,
        event_id: None,
        title: "SMB over QUIC certificate has expired",
        fix: "Renew the certificate and update the mapping (Set-SmbServerCertificateMapping)",
        per_session: false,
    },
    Rule {
        id: RuleId::Tcp445Exposed,
        name: "tcp445.exposed",
        side: None,
        severity: Severity::Medium,
        event_id: None,
        title: "An SMB over QUIC server also serves SMB on TCP/445",
        fix: "On an SMB over QUIC edge server, block TCP/445 inbound at the firewall (the \
              Microsoft SMB over QUIC guide: do not allow TCP/445 inbound)",
        per_session: false,
    },
    Rule {
        id: RuleId::QuicNonDefaultPort,
        name: "quic.non_default_port",
        side: None,
        severity: Severity::Info,
        event_id: None,
        title: "SMB over QUIC on a port other than UDP/443",
        fix: "Alternative ports need a client mapping (New-SmbClientConnectionMapping / \
              Set-SmbClientConfiguration) and a firewall rule; check that this one is intended",
        per_session: false,
    },
    Rule {
        id: RuleId::LogonBruteforce,
        name: "logon.bruteforce",
        side: None,
        severity: Severity::High,
        // Security 4625 (an account failed to log on) on the server, per attempt; SMBServer
        // 551 (SMB session authentication failure) in Microsoft-Windows-SMBServer/Security.
        event_id: Some(4625),
        title: "Brute force: many failed logons for one user from one client",
        fix: "Set an account lockout policy (net accounts /lockoutthreshold:10 /lockoutwindow:15, \
              or GPO Account Lockout Policy); slow guessing with \
              Set-SmbServerConfiguration -InvalidAuthenticationDelayTimeInMs 2000; block the \
              client; Samba AD: samba-tool domain passwordsettings set \
              --account-lockout-threshold=10, standalone: pdbedit -P \"bad lockout attempt\" -C 10",
        per_session: false,
    },
    Rule {
        id: RuleId::LogonSpray,
        name: "logon.spray",
        side: None,
        severity: Severity::High,
        event_id: Some(4625),
        title: "Password spray: failed logons for many users",
        fix: "Block the client(s) and look for a success among the sprayed users; an account \
              lockout policy does not stop a spray (one try per user), so also \
              Set-SmbServerConfiguration -InvalidAuthenticationDelayTimeInMs 2000, strong \
              password policy or banned passwords, and no SMB exposed to untrusted networks \
              (SMB over QUIC with client access control); Samba: the same, plus \
              samba-tool domain passwordsettings for lockout",
        per_session: false,
    },
    Rule {
        id: RuleId::LogonLockout,
        name: "logon.lockout",
        side: None,
        severity: Severity::Medium,
        // Security 4740 (a user account was locked out) on the domain controller.
        event_id: Some(4740),
        title: "Account locked out (STATUS_ACCOUNT_LOCKED_OUT)",
        fix: "Find the source of the failed logons before unlocking (Security 4740 names the \
              caller computer); Unlock-ADAccount or net user NAME /active after the cause is \
              fixed; Samba AD: samba-tool user unlock NAME, standalone: pdbedit -z and clear \
              the L flag (pdbedit -c '[]' -u NAME)",
        per_session: false,
    },
    Rule {
        id: RuleId::LogonSuccessAfterFailures,
        name: "logon.success_after_failures",
        side: None,
        severity: Severity::High,
        // Security 4624 (successful logon) following the 4625 burst.
        event_id: Some(4624),
        title: "A logon succeeded from a client that was guessing passwords",
        fix: "Treat the account as compromised: reset its password, revoke its sessions \
              (Close-SmbSession), review what it accessed; then block the client and set an \
              account lockout policy and -InvalidAuthenticationDelayTimeInMs",
        per_session: false,
    },
    Rule {
        id: RuleId::EnumNullSession,
        name: "enum.null_session",
        side: None,
        severity: Severity::Medium,
        // Security 5145 (network share object checked, with IPC$ and the pipe name) when
        // detailed file share auditing is on.
        event_id: Some(5145),
        title: "Anonymous or guest session enumerating through IPC$ pipes",
        fix: "Windows: RestrictAnonymous = 1 and RestrictAnonymousSAM = 1 (GPO Network access: Do \
              not allow anonymous enumeration of SAM accounts and shares), RestrictNullSessAccess \
              = 1 with empty NullSessionPipes, and disable the Guest account; Samba: restrict \
              anonymous = 2, map to guest = never",
        per_session: true,
    },
];

impl RuleId {
    /// The registry entry of this rule.
    pub fn rule(self) -> &'static Rule {
        // RULES is in RuleId order; the `registry_is_in_order` test guards it.
        &RULES[self as usize]
    }

    /// A bit for de-duplication sets (fewer than 32 rules).
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Why a rule fires in a given context, so mandates can be applied.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// The session cannot sign (guest, anonymous, SMB1 without signing).
    pub cannot_sign: bool,
    /// The session cannot encrypt (dialect below 3.0, guest, anonymous).
    pub cannot_encrypt: bool,
}

/// The severity of `rule` under `mandates`, and which mandate raised it (if any).
///
/// A client with `RequireSecuritySignature` refuses sessions that would not be signed: unsigned
/// authenticated sessions, guest and anonymous sessions, SMB1 without signing. A client with
/// `RequireEncryption` refuses sessions that would not be encrypted. Such findings become
/// `high` and name the mandate.
pub fn severity(
    rule: RuleId,
    mandates: Mandates,
    ctx: Context,
) -> (Severity, Option<&'static str>) {
    let base = rule.rule().severity;
    let signing_refusal = match rule {
        RuleId::SessionUnsigned | RuleId::Guest | RuleId::Anonymous => true,
        RuleId::Smb1 => ctx.cannot_sign,
        _ => false,
    };
    let encryption_refusal = match rule {
        RuleId::SessionUnencrypted => true,
        RuleId::Guest | RuleId::Anonymous | RuleId::Smb1 | RuleId::DialectLegacy => {
            ctx.cannot_encrypt
        }
        RuleId::EncryptionRefused => true,
        _ => false,
    };
    if mandates.signing && signing_refusal {
        (Severity::High, Some("signing"))
    } else if mandates.encryption && encryption_refusal {
        (Severity::High, Some("encryption"))
    } else if mandates.signing && rule == RuleId::SigningNotRequiredClient {
        (Severity::Medium.max(base), Some("signing"))
    } else {
        (base, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_in_order() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.id as usize, i, "{} out of order", r.name);
            assert!(!r.fix.is_empty() && !r.title.is_empty());
        }
        assert!(RULES.len() < 32);
    }

    #[test]
    fn mandates_raise_severity() {
        let none = Mandates::default();
        assert_eq!(
            severity(RuleId::SessionUnsigned, none, Context::default()),
            (Severity::Medium, None)
        );
        let sign = Mandates::parse("signing").unwrap();
        assert_eq!(
            severity(RuleId::SessionUnsigned, sign, Context::default()),
            (Severity::High, Some("signing"))
        );
        let enc = Mandates::parse("encryption").unwrap();
        assert_eq!(
            severity(RuleId::SessionUnencrypted, enc, Context::default()),
            (Severity::High, Some("encryption"))
        );
        assert_eq!(
            severity(RuleId::SessionUnencrypted, sign, Context::default()).0,
            Severity::Low
        );
        let legacy = Context {
            cannot_encrypt: true,
            ..Context::default()
        };
        assert_eq!(
            severity(RuleId::DialectLegacy, enc, legacy),
            (Severity::High, Some("encryption"))
        );
        assert!(Mandates::parse("signing,bogus").is_err());
        let both = Mandates::parse("signing, encryption").unwrap();
        assert!(both.signing && both.encryption);
    }
}
