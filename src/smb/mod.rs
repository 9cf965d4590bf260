//! TODO module

mod der;
pub mod nbss;
pub mod ntlmssp;
pub mod smb1;
pub mod spnego;
