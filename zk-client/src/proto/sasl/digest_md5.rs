//! SASL DIGEST-MD5 (RFC 2831), authentication only (`qop=auth`), as
//! ZooKeeper serves it through JAAS `DigestLoginModule`: both halves as pure
//! state machines. Randomness (nonce, cnonce) comes from the caller.
//!
//! ZooKeeper fixes the names: protocol `zookeeper`, server name
//! `zk-sasl-md5`, so the digest-uri is `zookeeper/zk-sasl-md5` and the
//! realm the server offers is `zk-sasl-md5`.
//!
//! The exchange, each token carried in a SASL request (opcode 102):
//! 1. client → empty token; server → challenge (`realm`, `nonce`, `qop`,
//!    `charset`, `algorithm`);
//! 2. client → response (`username`, `cnonce`, `nc`, `digest-uri`,
//!    `response` = a keyed MD5 of the password and both nonces); server
//!    checks it → `rspauth` (proves the server knows the password too);
//! 3. the client checks `rspauth`: done.

use super::SaslError;
use md5::{Digest, Md5};

/// The realm and host part of the digest-uri ZooKeeper uses.
pub const ZOOKEEPER_SERVER_NAME: &str = "zk-sasl-md5";
/// The digest-uri every ZooKeeper DIGEST-MD5 exchange names.
pub const ZOOKEEPER_DIGEST_URI: &str = "zookeeper/zk-sasl-md5";

/// The client half.
pub struct DigestMd5Client {
    username: String,
    password: String,
    cnonce: String,
    digest_uri: String,
    state: ClientState,
}

enum ClientState {
    /// Nothing sent yet.
    Start,
    /// Sent the initial empty token; waiting for the challenge.
    AwaitChallenge,
    /// Sent the response; waiting for `rspauth`, expected to equal this.
    AwaitRspauth(String),
    Done,
    Failed,
}

impl std::fmt::Debug for DigestMd5Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestMd5Client")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What the client sends next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientStep {
    /// Send this token and wait for the server's.
    Send(Vec<u8>),
    /// Authenticated (the server proved it knows the password).
    Done,
}

impl DigestMd5Client {
    /// A client for ZooKeeper's digest-uri. `cnonce` must be fresh and
    /// unpredictable for every exchange (e.g. 16 random bytes, base64).
    pub fn new(username: &str, password: &str, cnonce: &str) -> DigestMd5Client {
        DigestMd5Client {
            username: username.to_string(),
            password: password.to_string(),
            cnonce: cnonce.to_string(),
            digest_uri: ZOOKEEPER_DIGEST_URI.to_string(),
            state: ClientState::Start,
        }
    }

    /// The next step, given the server's last token (`None` to start).
    pub fn step(&mut self, server_token: Option<&[u8]>) -> Result<ClientStep, SaslError> {
        let state = std::mem::replace(&mut self.state, ClientState::Failed);
        let (next, step) = match (state, server_token) {
            (ClientState::Start, _) => (ClientState::AwaitChallenge, ClientStep::Send(Vec::new())),
            (ClientState::AwaitChallenge, Some(challenge)) => {
                let (response, rspauth) = self.respond(challenge)?;
                (
                    ClientState::AwaitRspauth(rspauth),
                    ClientStep::Send(response),
                )
            }
            (ClientState::AwaitRspauth(expected), Some(token)) => {
                let fields = Directives::parse(token)?;
                match fields.get("rspauth") {
                    Some(got) if got == expected => (ClientState::Done, ClientStep::Done),
                    Some(_) => {
                        return Err(SaslError::new(
                            "DIGEST-MD5: the server's rspauth does not match (it does not know the password)",
                        ))
                    }
                    None => return Err(SaslError::new("DIGEST-MD5: no rspauth from the server")),
                }
            }
            (ClientState::Done, _) => {
                return Err(SaslError::new(
                    "DIGEST-MD5: token after the exchange completed",
                ))
            }
            (ClientState::Failed, _) => {
                return Err(SaslError::new("DIGEST-MD5: exchange already failed"))
            }
            (_, None) => {
                return Err(SaslError::new(
                    "DIGEST-MD5: the server sent no token (it serves no SASL)",
                ))
            }
        };
        self.state = next;
        Ok(step)
    }

    /// Whether the exchange completed.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, ClientState::Done)
    }

    fn respond(&self, challenge: &[u8]) -> Result<(Vec<u8>, String), SaslError> {
        let fields = Directives::parse(challenge)?;
        let nonce = fields
            .get("nonce")
            .ok_or_else(|| SaslError::new("DIGEST-MD5: challenge without nonce"))?;
        let qops = fields.get("qop").unwrap_or("auth");
        if !qops.split(',').any(|q| q.trim() == "auth") {
            return Err(SaslError::new(format!(
                "DIGEST-MD5: server offers qop {qops:?}, not auth"
            )));
        }
        if fields.get("algorithm") != Some("md5-sess") {
            return Err(SaslError::new(
                "DIGEST-MD5: challenge without algorithm=md5-sess",
            ));
        }
        let realm = fields.get("realm").unwrap_or("");
        let utf8 = fields.get("charset") == Some("utf-8");
        let nc = "00000001";
        let inputs = DigestInputs {
            username: &self.username,
            realm,
            password: &self.password,
            nonce,
            cnonce: &self.cnonce,
            nc,
            digest_uri: &self.digest_uri,
        };
        let response = inputs.response(true);
        let rspauth = inputs.response(false);
        let mut out = String::new();
        if utf8 {
            out.push_str("charset=utf-8,");
        }
        out.push_str(&format!(
            "username={},realm={},nonce={},nc={nc},cnonce={},digest-uri={},maxbuf=65536,response={response},qop=auth",
            quote(&self.username),
            quote(realm),
            quote(nonce),
            quote(&self.cnonce),
            quote(&self.digest_uri),
        ));
        Ok((out.into_bytes(), rspauth))
    }
}

/// The server half: offers a challenge, checks the response against a
/// password looked up by user name.
pub struct DigestMd5Server {
    realm: String,
    digest_uri: String,
    nonce: String,
    state: ServerState,
}

#[derive(Debug, PartialEq, Eq)]
enum ServerState {
    Start,
    AwaitResponse,
    Done,
    Failed,
}

impl std::fmt::Debug for DigestMd5Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestMd5Server")
            .field("realm", &self.realm)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// What the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStep {
    /// Send this challenge and wait for the response.
    Challenge(Vec<u8>),
    /// The client proved it knows `user`'s password: send `rspauth`; the
    /// connection is now `sasl:<user>`.
    Success {
        /// The final token for the client.
        rspauth: Vec<u8>,
        /// The authenticated user.
        user: String,
    },
}

impl DigestMd5Server {
    /// A server for ZooKeeper's realm and digest-uri. `nonce` must be fresh
    /// and unpredictable for every exchange.
    pub fn new(nonce: &str) -> DigestMd5Server {
        DigestMd5Server {
            realm: ZOOKEEPER_SERVER_NAME.to_string(),
            digest_uri: ZOOKEEPER_DIGEST_URI.to_string(),
            nonce: nonce.to_string(),
            state: ServerState::Start,
        }
    }

    /// Answers the client's token; `password_of` looks a user up.
    pub fn step(
        &mut self,
        client_token: &[u8],
        password_of: impl Fn(&str) -> Option<String>,
    ) -> Result<ServerStep, SaslError> {
        let state = std::mem::replace(&mut self.state, ServerState::Failed);
        match state {
            ServerState::Start => {
                if !client_token.is_empty() {
                    return Err(SaslError::new(
                        "DIGEST-MD5: the client's first token must be empty",
                    ));
                }
                self.state = ServerState::AwaitResponse;
                let challenge = format!(
                    "realm={},nonce={},qop=\"auth\",charset=utf-8,algorithm=md5-sess",
                    quote(&self.realm),
                    quote(&self.nonce)
                );
                Ok(ServerStep::Challenge(challenge.into_bytes()))
            }
            ServerState::AwaitResponse => {
                let (rspauth, user) = self.check(client_token, password_of)?;
                self.state = ServerState::Done;
                Ok(ServerStep::Success {
                    rspauth: format!("rspauth={rspauth}").into_bytes(),
                    user,
                })
            }
            ServerState::Done | ServerState::Failed => {
                Err(SaslError::new("DIGEST-MD5: token after the exchange ended"))
            }
        }
    }

    fn check(
        &self,
        token: &[u8],
        password_of: impl Fn(&str) -> Option<String>,
    ) -> Result<(String, String), SaslError> {
        let fields = Directives::parse(token)?;
        let field = |name: &str| {
            fields
                .get(name)
                .ok_or_else(|| SaslError::new(format!("DIGEST-MD5: response without {name}")))
        };
        let username = field("username")?;
        let realm = fields.get("realm").unwrap_or("");
        if field("nonce")? != self.nonce {
            return Err(SaslError::new("DIGEST-MD5: nonce mismatch"));
        }
        if fields.get("qop").unwrap_or("auth") != "auth" {
            return Err(SaslError::new("DIGEST-MD5: only qop=auth is served"));
        }
        if field("digest-uri")? != self.digest_uri {
            return Err(SaslError::new("DIGEST-MD5: wrong digest-uri"));
        }
        let nc = field("nc")?;
        let cnonce = field("cnonce")?;
        let response = field("response")?;
        let authzid = fields.get("authzid");
        // An unknown user gets the same answer as a wrong password.
        let failed = || SaslError::new("DIGEST-MD5: authentication failed");
        let password = password_of(username).ok_or_else(failed)?;
        let inputs = DigestInputs {
            username,
            realm,
            password: &password,
            nonce: &self.nonce,
            cnonce,
            nc,
            digest_uri: &self.digest_uri,
        };
        let (expected, rspauth) = match authzid {
            Some(a) => (
                inputs.response_with_authzid(true, a),
                inputs.response_with_authzid(false, a),
            ),
            None => (inputs.response(true), inputs.response(false)),
        };
        if !constant_time_eq(expected.as_bytes(), response.as_bytes()) {
            return Err(failed());
        }
        Ok((rspauth, username.to_string()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Everything the response digest covers.
struct DigestInputs<'a> {
    username: &'a str,
    realm: &'a str,
    password: &'a str,
    nonce: &'a str,
    cnonce: &'a str,
    nc: &'a str,
    digest_uri: &'a str,
}

impl DigestInputs<'_> {
    /// `response` (from the client, `client` true) or `rspauth` (false).
    fn response(&self, client: bool) -> String {
        self.digest(client, None)
    }

    fn response_with_authzid(&self, client: bool, authzid: &str) -> String {
        self.digest(client, Some(authzid))
    }

    fn digest(&self, client: bool, authzid: Option<&str>) -> String {
        // A1 = H(user:realm:password) ":" nonce ":" cnonce [":" authzid]
        let mut inner = Md5::new();
        inner.update(self.encode(self.username));
        inner.update(b":");
        inner.update(self.encode(self.realm));
        inner.update(b":");
        inner.update(self.encode(self.password));
        let mut a1 = inner.finalize().to_vec();
        a1.extend_from_slice(format!(":{}:{}", self.nonce, self.cnonce).as_bytes());
        if let Some(a) = authzid {
            a1.push(b':');
            a1.extend_from_slice(a.as_bytes());
        }
        // A2 = "AUTHENTICATE:" digest-uri (client) or ":" digest-uri (server)
        let a2 = if client {
            format!("AUTHENTICATE:{}", self.digest_uri)
        } else {
            format!(":{}", self.digest_uri)
        };
        let ha1 = hex(&Md5::digest(&a1));
        let ha2 = hex(&Md5::digest(a2.as_bytes()));
        let kd = format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            self.nonce, self.nc, self.cnonce
        );
        hex(&Md5::digest(kd.as_bytes()))
    }

    /// RFC 2831: a value whose characters all fit in ISO 8859-1 is hashed
    /// as ISO 8859-1; any other (possible only with `charset=utf-8`) as
    /// UTF-8.
    fn encode(&self, value: &str) -> Vec<u8> {
        if value.chars().all(|c| (c as u32) < 0x100) {
            value.chars().map(|c| c as u8).collect()
        } else {
            value.as_bytes().to_vec()
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A parsed `name=value, name="quoted value", ...` list.
struct Directives(Vec<(String, String)>);

impl Directives {
    fn parse(token: &[u8]) -> Result<Directives, SaslError> {
        let text = std::str::from_utf8(token)
            .map_err(|_| SaslError::new("DIGEST-MD5: token is not UTF-8"))?;
        let bad = || SaslError::new("DIGEST-MD5: malformed directive list");
        let mut out = Vec::new();
        let mut chars = text.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
                chars.next();
            }
            if chars.peek().is_none() {
                break;
            }
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c == '=' || c.is_whitespace() {
                    break;
                }
                name.push(c);
                chars.next();
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.next() != Some('=') || name.is_empty() {
                return Err(bad());
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('\\') => value.push(chars.next().ok_or_else(bad)?),
                        Some('"') => break,
                        Some(c) => value.push(c),
                        None => return Err(bad()),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim_end().to_string();
            }
            out.push((name.to_ascii_lowercase(), value));
        }
        Ok(Directives(out))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(name: &str) -> Option<String> {
        (name == "bob").then(|| "bobsecret".to_string())
    }

    /// The worked example of RFC 2831 section 4 (IMAP, md5-sess, qop=auth).
    #[test]
    fn rfc2831_example_response_and_rspauth() {
        let inputs = DigestInputs {
            username: "chris",
            realm: "elwood.innosoft.com",
            password: "secret",
            nonce: "OA6MG9tEQGm2hh",
            cnonce: "OA6MHXh6VqTrRk",
            nc: "00000001",
            digest_uri: "imap/elwood.innosoft.com",
        };
        assert_eq!(inputs.response(true), "d388dad90d4bbd760a152321f2143af7");
        assert_eq!(inputs.response(false), "ea40f60335c427b5527b84dbabcdfffd");
    }

    #[test]
    fn client_and_server_agree() {
        let mut client = DigestMd5Client::new("bob", "bobsecret", "c-nonce");
        let mut server = DigestMd5Server::new("s-nonce");
        let ClientStep::Send(first) = client.step(None).unwrap() else {
            panic!()
        };
        assert!(first.is_empty());
        let ServerStep::Challenge(challenge) = server.step(&first, users).unwrap() else {
            panic!()
        };
        let text = String::from_utf8(challenge.clone()).unwrap();
        assert!(text.contains("realm=\"zk-sasl-md5\""), "{text}");
        let ClientStep::Send(response) = client.step(Some(&challenge)).unwrap() else {
            panic!()
        };
        let text = String::from_utf8(response.clone()).unwrap();
        assert!(
            text.contains("digest-uri=\"zookeeper/zk-sasl-md5\"") && !text.contains("bobsecret"),
            "{text}"
        );
        let ServerStep::Success { rspauth, user } = server.step(&response, users).unwrap() else {
            panic!()
        };
        assert_eq!(user, "bob");
        assert_eq!(client.step(Some(&rspauth)).unwrap(), ClientStep::Done);
        assert!(client.is_complete());
    }

    #[test]
    fn wrong_password_and_unknown_user_fail_alike() {
        for (user, password) in [("bob", "wrong"), ("eve", "bobsecret")] {
            let mut client = DigestMd5Client::new(user, password, "c");
            let mut server = DigestMd5Server::new("s");
            let ClientStep::Send(t) = client.step(None).unwrap() else {
                panic!()
            };
            let ServerStep::Challenge(c) = server.step(&t, users).unwrap() else {
                panic!()
            };
            let ClientStep::Send(r) = client.step(Some(&c)).unwrap() else {
                panic!()
            };
            let err = server.step(&r, users).unwrap_err();
            assert_eq!(err.to_string(), "DIGEST-MD5: authentication failed");
            assert!(!err.to_string().contains(password));
        }
    }

    #[test]
    fn a_server_that_does_not_know_the_password_is_caught() {
        let mut client = DigestMd5Client::new("bob", "bobsecret", "c");
        let mut server = DigestMd5Server::new("s");
        let ClientStep::Send(t) = client.step(None).unwrap() else {
            panic!()
        };
        let ServerStep::Challenge(c) = server.step(&t, users).unwrap() else {
            panic!()
        };
        client.step(Some(&c)).unwrap();
        let err = client
            .step(Some(b"rspauth=00000000000000000000000000000000"))
            .unwrap_err();
        assert!(err.to_string().contains("rspauth"), "{err}");
    }

    #[test]
    fn authzid_is_covered_by_the_digest() {
        // Java's client sends authzid (its user name); the server must
        // include it in A1.
        let mut server = DigestMd5Server::new("n");
        server.step(b"", users).unwrap();
        let inputs = DigestInputs {
            username: "bob",
            realm: "zk-sasl-md5",
            password: "bobsecret",
            nonce: "n",
            cnonce: "c",
            nc: "00000001",
            digest_uri: ZOOKEEPER_DIGEST_URI,
        };
        let response = inputs.response_with_authzid(true, "bob");
        let token = format!(
            "charset=utf-8,username=\"bob\",realm=\"zk-sasl-md5\",nonce=\"n\",nc=00000001,\
             cnonce=\"c\",digest-uri=\"zookeeper/zk-sasl-md5\",maxbuf=65536,\
             response={response},qop=auth,authzid=\"bob\""
        );
        let step = server.step(token.as_bytes(), users).unwrap();
        assert!(matches!(step, ServerStep::Success { user, .. } if user == "bob"));
    }

    #[test]
    fn malformed_tokens_are_errors_not_panics() {
        for token in [
            &b"=x"[..],
            b"a=\"unterminated",
            b"\xff\xfe",
            b"nonce",
            b"a=\"x\\",
        ] {
            let mut client = DigestMd5Client::new("bob", "pw", "c");
            client.step(None).unwrap();
            assert!(client.step(Some(token)).is_err(), "{token:?}");
            let mut server = DigestMd5Server::new("s");
            server.step(b"", users).unwrap();
            assert!(server.step(token, users).is_err(), "{token:?}");
        }
        let mut server = DigestMd5Server::new("s");
        assert!(server.step(b"not empty", users).is_err());
    }

    #[test]
    fn directives_parse_quoted_escaped_and_bare_values() {
        let d =
            Directives::parse(br#" realm="a\"b", nonce = "x,y" ,qop=auth ,, algorithm=md5-sess"#)
                .unwrap();
        assert_eq!(d.get("realm"), Some("a\"b"));
        assert_eq!(d.get("nonce"), Some("x,y"));
        assert_eq!(d.get("qop"), Some("auth"));
        assert_eq!(d.get("algorithm"), Some("md5-sess"));
    }
}
