//! SASL mechanisms ZooKeeper serves, as pure state machines shared by the
//! client and zk-testserver. The tokens travel in SASL requests (opcode
//! 102, [`super::SaslPacket`] both ways).

pub mod digest_md5;

pub use digest_md5::{ClientStep, DigestMd5Client, DigestMd5Server, ServerStep};

/// A SASL exchange failed: a malformed or unexpected token, or credentials
/// that do not match. The message never contains a password or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslError(String);

impl SaslError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> SaslError {
        SaslError(message.into())
    }
}

impl std::fmt::Display for SaslError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SaslError {}
