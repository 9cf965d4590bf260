//! SMB2 protocol ids that the crypto layer needs as much as the parsers ([MS-SMB2]
//! §2.2.3.1.2, §2.2.3.1.7): kept below both, re-exported by [`crate::smb::negotiate`].

use crate::wire_enum;

wire_enum! {
    /// Encryption cipher id (§2.2.3.1.2). 3.0/3.0.2 always use AES-128-CCM.
    pub struct Cipher(u16) {
        /// In a response: no common cipher.
        NONE = 0x0000 => "none",
        AES_128_CCM = 0x0001 => "AES-128-CCM",
        AES_128_GCM = 0x0002 => "AES-128-GCM",
        AES_256_CCM = 0x0003 => "AES-256-CCM",
        AES_256_GCM = 0x0004 => "AES-256-GCM",
    }
}

wire_enum! {
    /// Signing algorithm id (§2.2.3.1.7).
    pub struct SigningAlgorithm(u16) {
        HMAC_SHA256 = 0x0000 => "HMAC-SHA256",
        AES_CMAC = 0x0001 => "AES-128-CMAC",
        AES_GMAC = 0x0002 => "AES-128-GMAC",
    }
}
