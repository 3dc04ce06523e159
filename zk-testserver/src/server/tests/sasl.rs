//! SASL DIGEST-MD5 through the pipeline: the exchange, the `sasl:` identity
//! and ACLs, a refusal (AuthFailed, connection closed, session kept), and a
//! server without users (a null token, as ZooKeeper without JAAS answers).

use super::harness::*;
use crate::server::ServerConfig;
use bytes::Bytes;
use zk_client::proto::sasl::{ClientStep, DigestMd5Client};
use zk_client::proto::*;

fn sasl(token: Vec<u8>) -> Request {
    Request::Sasl(SaslPacket {
        token: Some(Bytes::from(token)),
    })
}

fn token(reply: &Reply) -> Option<Vec<u8>> {
    match &reply.body {
        Some(Response::Sasl(p)) => p.token.as_ref().map(|t| t.to_vec()),
        other => panic!("not a SASL reply: {other:?}"),
    }
}

fn with_users() -> Harness {
    let mut cfg = ServerConfig::with_tick(100);
    cfg.sasl_users.insert("bob", "bobsecret");
    Harness::with_config(cfg)
}

/// Runs the client half against the server; the last reply.
fn exchange(h: &mut Harness, c: &mut Client, password: &str) -> Reply {
    let mut client = DigestMd5Client::new("bob", password, "cnonce");
    let mut server_token = None;
    loop {
        let ClientStep::Send(t) = client.step(server_token.as_deref()).unwrap() else {
            unreachable!("the server's rspauth ends the loop first")
        };
        let reply = h.call(c, &sasl(t));
        if reply.err() != 0 || client_done(&mut client, &reply) {
            return reply;
        }
        server_token = token(&reply);
    }
}

fn client_done(client: &mut DigestMd5Client, reply: &Reply) -> bool {
    let t = token(reply).unwrap_or_default();
    t.starts_with(b"rspauth=") && client.step(Some(&t)) == Ok(ClientStep::Done)
}

#[test]
fn digest_md5_adds_the_sasl_identity() {
    let mut h = with_users();
    let mut c = h.connect();
    let reply = exchange(&mut h, &mut c, "bobsecret");
    assert_eq!((reply.err(), reply.header.zxid), (0, 0));
    let who = h.call(&mut c, &Request::WhoAmI);
    let Some(Response::WhoAmI(who)) = who.body else {
        panic!()
    };
    assert!(who
        .client_info
        .iter()
        .any(|i| i.auth_scheme == "sasl" && i.user == "bob"));
    let acl = vec![Acl::new(Perms::ALL, Id::new("sasl", "bob"))];
    assert_eq!(h.call(&mut c, &create_acl("/s", acl)).err(), 0);
    let mut other = h.connect();
    let read = Request::GetData(PathWatchRequest {
        path: "/s".into(),
        watch: false,
    });
    assert_eq!(h.call(&mut other, &read).err(), ErrorCode::NoAuth.code());
    assert_eq!(h.call(&mut c, &read).err(), 0);
}

#[test]
fn a_wrong_password_closes_the_connection_but_not_the_session() {
    let mut h = with_users();
    let mut c = h.connect();
    let mut client = DigestMd5Client::new("bob", "wrong", "cnonce");
    let ClientStep::Send(first) = client.step(None).unwrap() else {
        panic!()
    };
    let challenge = token(&h.call(&mut c, &sasl(first))).unwrap();
    let ClientStep::Send(response) = client.step(Some(&challenge)).unwrap() else {
        panic!()
    };
    let (xid, out) = h.send(&mut c, &sasl(response));
    assert!(closed(c.conn, &out), "the connection stays open");
    // As ZooKeeper: the header with AuthFailed, then a null token.
    let frames: Vec<&Bytes> = out
        .iter()
        .filter_map(|(conn, o)| match o {
            crate::server::ConnOutput::Frame(f) if *conn == c.conn => Some(f),
            _ => None,
        })
        .collect();
    let mut expected = Vec::new();
    expected.extend_from_slice(&20i32.to_be_bytes());
    expected.extend_from_slice(&xid.to_be_bytes());
    expected.extend_from_slice(&0i64.to_be_bytes());
    expected.extend_from_slice(&ErrorCode::AuthFailed.code().to_be_bytes());
    expected.extend_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(frames, vec![&Bytes::from(expected)]);
    assert!(
        h.server.sessions().iter().any(|(id, _)| *id == c.session),
        "the session must live on until it expires"
    );
}

#[test]
fn without_users_sasl_gets_a_null_token_and_sasl_acls_are_invalid() {
    let mut h = Harness::new();
    let mut c = h.connect();
    let reply = h.call(&mut c, &sasl(Vec::new()));
    assert_eq!((reply.err(), token(&reply)), (0, None));
    let acl = vec![Acl::new(Perms::ALL, Id::new("sasl", "bob"))];
    assert_eq!(
        h.call(&mut c, &create_acl("/s", acl)).err(),
        ErrorCode::InvalidAcl.code()
    );
}
