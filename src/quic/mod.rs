pub mod cert;
pub mod tls;
