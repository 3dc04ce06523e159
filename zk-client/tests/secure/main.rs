//! TLS, x509 identities and SASL DIGEST-MD5 end to end: against real
//! ZooKeeper when `scripts/conformance.sh secure` exports `ZK_SECURE_*`,
//! else against in-process zk-testserver ensembles serving the same.

mod common;

mod bad_input;
#[cfg(feature = "gssapi")]
mod gssapi;
mod read_only;
mod sasl;
mod tls;
