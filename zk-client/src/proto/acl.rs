//! Access control: permissions, identities, ACL entries and the digest scheme.

use super::jute::jute_record;
use base64::Engine as _;
use sha1::{Digest as _, Sha1};

/// A set of permissions (a bit mask, as on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Perms(pub i32);

impl Perms {
    /// Read data and list children.
    pub const READ: Perms = Perms(1);
    /// Set data.
    pub const WRITE: Perms = Perms(2);
    /// Create children.
    pub const CREATE: Perms = Perms(4);
    /// Delete children.
    pub const DELETE: Perms = Perms(8);
    /// Set the ACL.
    pub const ADMIN: Perms = Perms(16);
    /// Every permission.
    pub const ALL: Perms = Perms(31);
    /// No permission.
    pub const NONE: Perms = Perms(0);

    /// Whether every permission in `other` is in `self`.
    pub const fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether `self` and `other` share a permission.
    pub const fn intersects(self, other: Perms) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for Perms {
    type Output = Perms;
    fn bitor(self, rhs: Perms) -> Perms {
        Perms(self.0 | rhs.0)
    }
}

impl crate::proto::jute::Record for Perms {
    fn write(&self, buf: &mut bytes::BytesMut) {
        self.0.write(buf);
    }
    fn read(r: &mut crate::proto::jute::Reader) -> Result<Self, crate::proto::jute::DecodeError> {
        Ok(Perms(r.read_i32()?))
    }
}

/// An identity: a scheme and an id within it (`world:anyone`,
/// `digest:user:hash`, `ip:10.0.0.0/8`, `auth:`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Id {
    /// The authentication scheme.
    pub scheme: String,
    /// The identity within the scheme.
    pub id: String,
}

impl crate::proto::jute::Record for Id {
    fn write(&self, buf: &mut bytes::BytesMut) {
        use crate::proto::jute::JuteWrite as _;
        buf.put_jute_string(&self.scheme);
        buf.put_jute_string(&self.id);
    }

    fn read(r: &mut crate::proto::jute::Reader) -> Result<Self, crate::proto::jute::DecodeError> {
        // A null scheme reads as empty even where null strings are refused:
        // ZooKeeper's server looks the scheme up (unknown: InvalidACL) but
        // uses the id (null: a marshalling error).
        Ok(Id {
            scheme: r.read_opt_string()?.unwrap_or_default(),
            id: r.read_string()?,
        })
    }
}

impl Id {
    /// An identity from its scheme and id.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// `world:anyone`, matching every connection.
    pub fn anyone() -> Id {
        Id::new("world", "anyone")
    }

    /// `auth:`, replaced on create/setACL by the caller's authenticated ids.
    pub fn authenticated() -> Id {
        Id::new("auth", "")
    }

    /// A digest identity for `user` with `password`.
    pub fn digest(user: &str, password: &str) -> Id {
        Id::new("digest", digest_id(user, password))
    }
}

jute_record! {
    /// One ACL entry: permissions granted to an identity.
    pub struct Acl {
        /// Granted permissions.
        pub perms: Perms,
        /// Who gets them.
        pub id: Id,
    }
}

impl Acl {
    /// An entry granting `perms` to `id`.
    pub fn new(perms: Perms, id: Id) -> Acl {
        Acl { perms, id }
    }

    /// Everything for everyone (`OPEN_ACL_UNSAFE`).
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, Id::anyone())]
    }

    /// Everything for the creator's authenticated ids (`CREATOR_ALL_ACL`).
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, Id::authenticated())]
    }

    /// Read for everyone (`READ_ACL_UNSAFE`).
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::READ, Id::anyone())]
    }
}

jute_record! {
    /// One identity of a connection, as `whoAmI` reports it.
    pub struct ClientInfo {
        /// The scheme (`digest`, `ip`, `super`, ...).
        pub auth_scheme: String,
        /// The user within the scheme (for digest the user name, for ip the address).
        pub user: String,
    }
}

/// The digest scheme's id for a user: `user:base64(sha1("user:password"))`.
pub fn digest_id(user: &str, password: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::jute::Record;

    #[test]
    fn digest_matches_zookeeper() {
        // `DigestAuthenticationProvider.generateDigest("super:superpw")`.
        assert_eq!(
            digest_id("super", "superpw"),
            "super:g9oN2HttPfn8MMWJZ2r45Np/LIA="
        );
    }

    #[test]
    fn acl_round_trip() {
        let acl = Acl::new(Perms::READ | Perms::WRITE, Id::digest("u", "p"));
        let b = acl.to_bytes();
        assert_eq!(&b[..4], &3i32.to_be_bytes());
        assert_eq!(Acl::from_bytes(b).unwrap(), acl);
        assert!(Perms::ALL.contains(Perms::ADMIN));
        assert!(!Perms::READ.intersects(Perms::WRITE));
    }
}
