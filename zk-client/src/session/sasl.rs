//! The SASL exchange of one connection, as the session machine runs it:
//! tokens out with fresh xids, the server's answers checked and fed to the
//! mechanism, until it is done, failed, or the server refused.

use crate::proto::{xid, ErrorCode, Reader, Record, ReplyHeader, SaslPacket};
use crate::sasl::{SaslConfig, SaslExchange, SaslStep};

/// One connection's exchange, with what the session becomes once it is done.
pub(crate) struct SaslRun {
    exchange: Box<dyn SaslExchange>,
    /// The xid of the token awaiting the server's answer.
    xid: i32,
    /// The last token went out: the server's OK completes the exchange.
    sent_last: bool,
    /// Whether the session is on a read-only server / was resumed.
    pub(crate) read_only: bool,
    pub(crate) resumed: bool,
}

/// What a server answer leads to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SaslOutcome {
    /// Send this token next.
    Send(Vec<u8>),
    /// The server accepted the credentials.
    Authenticated,
    /// The server refused them, or the mechanism gave up.
    Failed(String),
    /// An answer that does not belong to the exchange.
    Violation(String),
    /// A notification or ping: nothing to do.
    Ignore,
}

impl SaslRun {
    /// Starts an exchange; returns it with the first token to send.
    pub(crate) fn start(
        config: &SaslConfig,
        read_only: bool,
        resumed: bool,
    ) -> Result<(SaslRun, Vec<u8>), String> {
        let mut exchange = config.start().map_err(|e| e.to_string())?;
        let (token, sent_last) = match exchange.step(None).map_err(|e| e.to_string())? {
            SaslStep::Send(t) => (t, false),
            SaslStep::SendLast(t) => (t, true),
            SaslStep::Done => (Vec::new(), true),
        };
        let run = SaslRun {
            exchange,
            xid: 0,
            sent_last,
            read_only,
            resumed,
        };
        Ok((run, token))
    }

    /// The token just sent went out with `xid`.
    pub(crate) fn sent(&mut self, xid: i32) {
        self.xid = xid;
    }

    /// Feeds the server's answer (header and body).
    pub(crate) fn handle_reply(&mut self, header: &ReplyHeader, body: &mut Reader) -> SaslOutcome {
        if header.xid == xid::NOTIFICATION || header.xid == xid::PING {
            return SaslOutcome::Ignore;
        }
        if header.xid != self.xid {
            return SaslOutcome::Violation(format!(
                "reply xid {} during SASL authentication (expected {})",
                header.xid, self.xid
            ));
        }
        if header.err != 0 {
            let code = ErrorCode::from_code(header.err)
                .map_or_else(|| header.err.to_string(), |c| c.to_string());
            return SaslOutcome::Failed(format!("the server refused the credentials ({code})"));
        }
        if self.sent_last {
            return SaslOutcome::Authenticated;
        }
        let token = match SaslPacket::read(body) {
            Ok(p) => p.token,
            Err(e) => return SaslOutcome::Violation(format!("undecodable SASL reply: {e}")),
        };
        match self.exchange.step(token.as_deref()) {
            Ok(SaslStep::Send(t)) => SaslOutcome::Send(t),
            Ok(SaslStep::SendLast(t)) => {
                self.sent_last = true;
                SaslOutcome::Send(t)
            }
            Ok(SaslStep::Done) => SaslOutcome::Authenticated,
            Err(e) => SaslOutcome::Failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn reply(xid: i32, err: i32, token: Option<&[u8]>) -> (ReplyHeader, Reader) {
        let mut buf = BytesMut::new();
        SaslPacket {
            token: token.map(bytes::Bytes::copy_from_slice),
        }
        .write(&mut buf);
        (ReplyHeader { xid, zxid: 0, err }, Reader::new(buf.freeze()))
    }

    fn started() -> SaslRun {
        let (mut run, first) =
            SaslRun::start(&SaslConfig::digest_md5("bob", "pw"), false, true).unwrap();
        assert!(first.is_empty(), "DIGEST-MD5 starts with an empty token");
        run.sent(7);
        run
    }

    #[test]
    fn a_refusal_is_an_auth_failure_naming_the_code() {
        let mut run = started();
        let (h, mut b) = reply(7, ErrorCode::AuthFailed.code(), None);
        match run.handle_reply(&h, &mut b) {
            SaslOutcome::Failed(m) => assert!(m.contains("refused"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_server_without_sasl_is_a_clear_failure() {
        // ZooKeeper without a JAAS Server section answers a null token.
        let mut run = started();
        let (h, mut b) = reply(7, 0, None);
        match run.handle_reply(&h, &mut b) {
            SaslOutcome::Failed(m) => assert!(m.contains("serves no SASL"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn foreign_replies_are_violations_and_notifications_are_ignored() {
        let mut run = started();
        let (h, mut b) = reply(8, 0, Some(b"x"));
        assert!(matches!(
            run.handle_reply(&h, &mut b),
            SaslOutcome::Violation(_)
        ));
        let (h, mut b) = reply(xid::NOTIFICATION, 0, None);
        assert_eq!(run.handle_reply(&h, &mut b), SaslOutcome::Ignore);
        let (h, _) = reply(7, 0, None);
        let mut garbage = Reader::new(bytes::Bytes::from_static(&[0, 0]));
        assert!(matches!(
            run.handle_reply(&h, &mut garbage),
            SaslOutcome::Violation(_)
        ));
    }

    #[test]
    fn a_challenge_gets_a_response_that_hides_the_password() {
        let mut run = started();
        let challenge =
            br#"realm="zk-sasl-md5",nonce="n",qop="auth",charset=utf-8,algorithm=md5-sess"#;
        let (h, mut b) = reply(7, 0, Some(challenge));
        match run.handle_reply(&h, &mut b) {
            SaslOutcome::Send(t) => {
                let t = String::from_utf8(t).unwrap();
                assert!(t.contains("username=\"bob\"") && !t.contains("pw,"), "{t}");
            }
            other => panic!("{other:?}"),
        }
        assert!(run.resumed && !run.read_only);
    }
}
