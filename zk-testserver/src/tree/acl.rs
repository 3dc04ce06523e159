//! ACL checks, ACL validation/expansion on create and setACL, and the
//! identities of a connection.

use zk_client::proto::{Acl, ClientInfo, ErrorCode, Id, Perms};

/// The identities a connection holds: its ip, digest logins, and whether a
/// login matched the superuser digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthInfo {
    /// Every identity, in the order acquired (`ip` first).
    pub ids: Vec<Id>,
    /// The server skips ACL checks for everyone (ZooKeeper's
    /// `zookeeper.skipACL=yes`): every [`check`] passes and `reconfig`
    /// needs no superuser. Off by default.
    pub skip_acl: bool,
}

impl AuthInfo {
    /// A connection from `ip` with no logins yet.
    pub fn from_ip(ip: &str) -> AuthInfo {
        AuthInfo {
            ids: vec![Id::new("ip", ip)],
            skip_acl: false,
        }
    }

    /// Whether a login made this connection the superuser.
    pub fn is_super(&self) -> bool {
        self.ids.iter().any(|id| id.scheme == "super")
    }

    /// Adds an identity unless already held.
    pub fn add(&mut self, id: Id) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }

    /// The identities in the order ZooKeeper iterates them (its
    /// `ConcurrentHashMap`-backed set), which whoAmI and `auth` ACL
    /// expansion expose.
    pub fn ordered_ids(&self) -> Vec<&Id> {
        let keyed: Vec<(&Id, &str, &str)> = self
            .ids
            .iter()
            .map(|id| (id, id.scheme.as_str(), id.id.as_str()))
            .collect();
        super::java_order::identity_order(&keyed)
    }

    /// What `whoAmI` reports: one entry per identity (digest: the user name).
    pub fn who_am_i(&self) -> Vec<ClientInfo> {
        self.ordered_ids()
            .into_iter()
            .map(|id| ClientInfo {
                auth_scheme: id.scheme.clone(),
                user: match id.scheme.as_str() {
                    "digest" => id.id.split(':').next().unwrap_or_default().to_string(),
                    _ => id.id.clone(),
                },
            })
            .collect()
    }
}

/// Result of a digest `addAuth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Identities to add to the connection.
    Added(Vec<Id>),
    /// Unknown scheme or malformed credentials (-115, then the server closes).
    Failed,
}

/// Handles an auth packet. `digest` with `user:password` adds
/// `digest:user:<b64 sha1(credentials)>` (like ZooKeeper, credentials without a
/// colon are hashed whole under that name), plus `super` when it matches the
/// superuser digest. `ip` succeeds without adding anything new (the connection
/// already has its ip id). Any other scheme fails.
pub fn authenticate(scheme: &str, auth: &[u8], super_digest: Option<&str>) -> AuthOutcome {
    if scheme == "ip" {
        return AuthOutcome::Added(Vec::new());
    }
    if scheme != "digest" {
        return AuthOutcome::Failed;
    }
    let Ok(text) = std::str::from_utf8(auth) else {
        return AuthOutcome::Failed;
    };
    let id = match text.split_once(':') {
        Some((user, password)) => zk_client::proto::digest_id(user, password),
        None => {
            use base64::Engine as _;
            use sha1::Digest as _;
            let hash = sha1::Sha1::digest(text.as_bytes());
            let b64 = base64::engine::general_purpose::STANDARD.encode(hash);
            format!("{text}:{b64}")
        }
    };
    let mut ids = Vec::new();
    if super_digest == Some(id.as_str()) {
        ids.push(Id::new("super", ""));
    }
    ids.push(Id::new("digest", id));
    AuthOutcome::Added(ids)
}

/// Whether `auth` may do `perm` on a node with `acl`: empty ACLs, the
/// superuser and a server that skips ACL checks always may; otherwise some
/// entry must grant a needed bit to a matching identity (`world:anyone`
/// matches everyone).
pub fn check(acl: &[Acl], perm: Perms, auth: &AuthInfo) -> Result<(), ErrorCode> {
    if acl.is_empty() || auth.is_super() || auth.skip_acl {
        return Ok(());
    }
    for entry in acl {
        if !entry.perms.intersects(perm) {
            continue;
        }
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            return Ok(());
        }
        for held in auth.ids.iter().filter(|h| h.scheme == id.scheme) {
            let matched = match id.scheme.as_str() {
                "digest" | "x509" | "sasl" => held.id == id.id,
                "ip" => ip_matches(&held.id, &id.id),
                _ => false,
            };
            if matched {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

/// The optional authentication providers a server has (ZooKeeper's
/// `authProvider.*`): ACL ids of their schemes are valid only then.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Providers {
    /// `x509` (a secure client port).
    pub x509: bool,
    /// `sasl` (SASL users configured).
    pub sasl: bool,
}

/// Validates and expands an ACL for create/setACL: duplicates dropped, `auth`
/// replaced by the caller's authenticated ids (digest, x509, sasl: the
/// schemes whose ZooKeeper provider `isAuthenticated`, not ip), every
/// entry's scheme and id checked. Empty or invalid → InvalidACL.
pub fn fixup(acl: &[Acl], auth: &AuthInfo, providers: Providers) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(unique.len());
    for a in unique {
        let id = &a.id;
        if id.scheme == "world" && id.id == "anyone" {
            out.push(a.clone());
        } else if id.scheme == "auth" {
            let mut any = false;
            for held in auth
                .ordered_ids()
                .into_iter()
                .filter(|h| matches!(h.scheme.as_str(), "digest" | "x509" | "sasl"))
            {
                any = true;
                out.push(Acl::new(a.perms, held.clone()));
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if valid_id(id, providers) {
            out.push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// Whether an id is valid for its scheme (world: only `anyone`; digest: exactly
/// two non-trailing-empty parts, as Java's `split(":")`; ip: an address with an
/// optional prefix length).
fn valid_id(id: &Id, providers: Providers) -> bool {
    match id.scheme.as_str() {
        "world" => id.id == "anyone",
        "digest" => {
            let mut parts: Vec<&str> = id.id.split(':').collect();
            while parts.last() == Some(&"") {
                parts.pop();
            }
            parts.len() == 2
        }
        "ip" => parse_cidr(&id.id).is_some(),
        "x509" => providers.x509 && valid_dn(&id.id),
        "sasl" => providers.sasl && valid_kerberos_name(&id.id),
        _ => false,
    }
}

/// Whether `X500Principal` would parse the name: `type=value` attributes
/// (a keyword or a dotted OID) separated by unescaped `,`, `;` or `+`.
/// The empty name is valid.
fn valid_dn(dn: &str) -> bool {
    if dn.trim().is_empty() {
        return true;
    }
    let mut parts = Vec::new();
    let (mut current, mut escaped, mut quoted) = (String::new(), false, false);
    for c in dn.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' => {
                current.push(c);
                escaped = true;
            }
            '"' => {
                current.push(c);
                quoted = !quoted;
            }
            ',' | ';' | '+' if !quoted => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    !escaped
        && !quoted
        && parts.iter().all(|p| match p.split_once('=') {
            Some((key, _)) => {
                let key = key.trim();
                !key.is_empty()
                    && (key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        || key.chars().all(|c| c.is_ascii_digit() || c == '.'))
            }
            None => false,
        })
}

/// ZooKeeper's `KerberosName` rule for `sasl` ids: a name without `@` is
/// fine; with one it must be `primary[/instance]@REALM`.
fn valid_kerberos_name(name: &str) -> bool {
    let Some((principal, realm)) = name.split_once('@') else {
        return true;
    };
    !realm.contains(['@', '/']) && principal.matches('/').count() <= 1
}

/// An `ip` ACL id as ZooKeeper's `IPAuthenticationProvider` reads it: an
/// IPv4 address (four dot-separated decimal numbers 0-255, each as Java's
/// `Integer.parseInt` takes it, so `01` or `+1` pass) with an optional
/// `/bits` of 0-32. ZooKeeper has no IPv6 support here: an IPv6 id is
/// invalid, and an IPv6 client matches nothing.
fn parse_cidr(spec: &str) -> Option<([u8; 4], u32)> {
    let (addr, bits) = match spec.split_once('/') {
        Some((a, b)) => (a, Some(java_int(b)?)),
        None => (spec, None),
    };
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(parts) {
        *o = u8::try_from(java_int(p)?).ok()?;
    }
    let bits = bits.unwrap_or(32);
    u32::try_from(bits)
        .ok()
        .filter(|b| *b <= 32)
        .map(|b| (octets, b))
}

/// Java's `Integer.parseInt` on ASCII input: an optional sign, then digits.
fn java_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Whether a connection address matches an `ip` ACL id (address or CIDR).
fn ip_matches(client: &str, spec: &str) -> bool {
    match (parse_cidr(client), parse_cidr(spec)) {
        (Some((c, _)), Some((net, bits))) => prefix_eq(&c, &net, bits),
        _ => false,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u32) -> bool {
    let mut left = bits;
    for (x, y) in a.iter().zip(b) {
        if left == 0 {
            return true;
        }
        let take = left.min(8);
        let mask = (0xFFu16 << (8 - take)) as u8;
        if x & mask != y & mask {
            return false;
        }
        left -= take;
    }
    true
}

/// The ACL as `getACL` shows it to a caller without ADMIN: digest hashes hidden.
pub fn redact(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or_default();
                Acl::new(a.perms, Id::new("digest", format!("{user}:x")))
            } else {
                a.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_client::proto::digest_id;

    fn digest_user(u: &str, p: &str) -> AuthInfo {
        let mut a = AuthInfo::from_ip("127.0.0.1");
        if let AuthOutcome::Added(ids) = authenticate("digest", format!("{u}:{p}").as_bytes(), None)
        {
            ids.into_iter().for_each(|i| a.add(i));
        }
        a
    }

    #[test]
    fn world_digest_ip_and_super() {
        let anon = AuthInfo::from_ip("10.1.2.3");
        assert!(check(&Acl::open_unsafe(), Perms::WRITE, &anon).is_ok());
        assert_eq!(
            check(&Acl::read_unsafe(), Perms::WRITE, &anon),
            Err(ErrorCode::NoAuth)
        );
        assert!(check(&[], Perms::ADMIN, &anon).is_ok());
        let acl = vec![Acl::new(Perms::ALL, Id::digest("u", "p"))];
        assert_eq!(check(&acl, Perms::READ, &anon), Err(ErrorCode::NoAuth));
        assert!(check(&acl, Perms::READ, &digest_user("u", "p")).is_ok());
        assert!(check(&acl, Perms::READ, &digest_user("u", "q")).is_err());
        let ip = vec![Acl::new(Perms::READ, Id::new("ip", "10.0.0.0/8"))];
        assert!(check(&ip, Perms::READ, &anon).is_ok());
        assert!(check(&ip, Perms::READ, &AuthInfo::from_ip("11.0.0.1")).is_err());
        let exact = vec![Acl::new(Perms::READ, Id::new("ip", "10.1.2.3"))];
        assert!(check(&exact, Perms::READ, &anon).is_ok());
        let sup = digest_id("super", "pw");
        let mut s = AuthInfo::from_ip("1.1.1.1");
        if let AuthOutcome::Added(ids) = authenticate("digest", b"super:pw", Some(&sup)) {
            ids.into_iter().for_each(|i| s.add(i));
        }
        assert!(s.is_super());
        assert!(check(&acl, Perms::ADMIN, &s).is_ok());
        assert_eq!(authenticate("foo", b"a:b", None), AuthOutcome::Failed);
        // Like ZooKeeper: credentials without a colon are hashed whole.
        assert!(matches!(
            authenticate("digest", b"nocolon", None),
            AuthOutcome::Added(ids) if ids[0].id.starts_with("nocolon:")
        ));
        assert_eq!(
            authenticate("ip", b"1.2.3.4", None),
            AuthOutcome::Added(vec![])
        );
    }

    #[test]
    fn fixup_rules() {
        let anon = AuthInfo::from_ip("127.0.0.1");
        assert_eq!(
            fixup(&[], &anon, Providers::default()),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&Acl::creator_all(), &anon, Providers::default()),
            Err(ErrorCode::InvalidAcl)
        );
        let user = digest_user("u", "p");
        let fixed = fixup(&Acl::creator_all(), &user, Providers::default()).unwrap();
        assert_eq!(fixed, vec![Acl::new(Perms::ALL, Id::digest("u", "p"))]);
        let dup = [Acl::open_unsafe(), Acl::open_unsafe()].concat();
        assert_eq!(fixup(&dup, &anon, Providers::default()).unwrap().len(), 1);
        for bad in [
            Id::new("digest", "nocolon"),
            Id::new("digest", "a:b:c"),
            Id::new("digest", "a:"),
            Id::new("ip", "not-an-ip"),
            Id::new("ip", "1.2.3.4/33"),
            // As ZooKeeper 3.8 (checked): IPv6 ids and malformed IPv4 ones.
            Id::new("ip", "::1"),
            Id::new("ip", "0:0:0:0:0:0:0:1"),
            Id::new("ip", "::ffff:127.0.0.1"),
            Id::new("ip", "1.2.3"),
            Id::new("ip", "1.2.3.4/"),
            Id::new("ip", "1.2.3.4/-1"),
            Id::new("ip", "300.1.1.1"),
            Id::new("ip", " 1.2.3.4"),
            Id::new("ip", "localhost"),
            Id::new("world", "someone"),
            Id::new("sasl", "x"),
            Id::new("super", ""),
        ] {
            assert_eq!(
                fixup(
                    &[Acl::new(Perms::ALL, bad.clone())],
                    &anon,
                    Providers::default()
                ),
                Err(ErrorCode::InvalidAcl),
                "{bad:?}"
            );
        }
        assert!(fixup(
            &[Acl::new(Perms::ALL, Id::new("digest", ":h"))],
            &anon,
            Providers::default()
        )
        .is_ok());
        for good in ["01.2.3.4", "+1.2.3.4", "0.0.0.0/0", "127.0.0.0/8"] {
            let acl = [Acl::new(Perms::ALL, Id::new("ip", good))];
            assert!(fixup(&acl, &anon, Providers::default()).is_ok(), "{good}");
        }
    }

    #[test]
    fn redaction_and_who_am_i() {
        let acl = vec![Acl::new(Perms::ALL, Id::digest("u", "p"))];
        assert_eq!(redact(&acl)[0].id.id, "u:x");
        let who = digest_user("u", "p").who_am_i();
        assert_eq!(who[0].auth_scheme, "ip");
        assert_eq!(who[1].user, "u");
    }

    #[test]
    fn x509_and_sasl_ids_match_exactly_and_expand_auth() {
        let mut a = AuthInfo::from_ip("127.0.0.1");
        a.add(Id::new("x509", "CN=app,O=zk-rs"));
        a.add(Id::new("sasl", "bob"));
        let x509 = [Acl::new(Perms::READ, Id::new("x509", "CN=app,O=zk-rs"))];
        let sasl = [Acl::new(Perms::READ, Id::new("sasl", "bob"))];
        let other = [Acl::new(Perms::READ, Id::new("sasl", "alice"))];
        assert_eq!(check(&x509, Perms::READ, &a), Ok(()));
        assert_eq!(check(&sasl, Perms::READ, &a), Ok(()));
        assert_eq!(check(&other, Perms::READ, &a), Err(ErrorCode::NoAuth));
        let anon = AuthInfo::from_ip("127.0.0.1");
        assert_eq!(check(&x509, Perms::READ, &anon), Err(ErrorCode::NoAuth));
        // `auth` becomes every authenticated id, never ip.
        let expanded = fixup(
            &[Acl::new(Perms::ALL, Id::new("auth", ""))],
            &a,
            Providers::default(),
        )
        .unwrap();
        let schemes: Vec<&str> = expanded.iter().map(|e| e.id.scheme.as_str()).collect();
        assert_eq!(schemes.len(), 2, "{expanded:?}");
        assert!(schemes.contains(&"x509") && schemes.contains(&"sasl"));
    }

    #[test]
    fn x509_and_sasl_ids_are_validated_as_zookeeper_does() {
        for (scheme, id, ok) in [
            ("x509", "CN=app,O=zk-rs", true),
            ("x509", "CN=a\\,b+OU=x;C=DE", true),
            ("x509", "2.5.4.3=#0c0161", true),
            ("x509", "", true),
            ("x509", "no equals sign", false),
            ("x509", "CN=a,", false),
            ("sasl", "bob", true),
            ("sasl", "zookeeper/host@EXAMPLE.COM", true),
            ("sasl", "a/b/c", true),
            ("sasl", "a@b@c", false),
            ("sasl", "a/b/c@R", false),
        ] {
            let acl = [Acl::new(Perms::READ, Id::new(scheme, id))];
            let both = Providers {
                x509: true,
                sasl: true,
            };
            let got = fixup(&acl, &AuthInfo::default(), both).is_ok();
            assert_eq!(got, ok, "{scheme}:{id}");
            // Without the provider, the scheme is unknown.
            let none = fixup(&acl, &AuthInfo::default(), Providers::default());
            assert_eq!(none, Err(ErrorCode::InvalidAcl), "{scheme}:{id}");
        }
    }
}
