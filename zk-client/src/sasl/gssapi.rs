//! SASL GSSAPI (RFC 4752) over the system's Kerberos GSS-API library:
//! the Kerberos context exchange, then the security-layer negotiation
//! (this client asks for no security layer, as ZooKeeper's does, since TLS
//! is the way to protect the connection).

use super::{SaslExchange, SaslStep};
use crate::proto::sasl::SaslError;
use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_NT_HOSTBASED_SERVICE};

/// The "no security layer" bit of RFC 4752's layer mask.
const NO_SECURITY_LAYER: u8 = 1;

pub(super) struct GssapiClient {
    ctx: ClientCtx,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// Exchanging Kerberos context tokens.
    Establishing,
    /// The context is up; waiting for the server's security-layer offer.
    AwaitLayers,
    Done,
}

fn gss(what: &str, e: libgssapi::error::Error) -> SaslError {
    SaslError::new(format!("GSSAPI: {what}: {e}"))
}

impl GssapiClient {
    /// A context for the service principal `<service>@<host>`, with the
    /// default credentials of the process.
    pub(super) fn new(service: &str, host: &str) -> Result<GssapiClient, SaslError> {
        let target = format!("{service}@{host}");
        let name = Name::new(target.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE))
            .map_err(|e| gss(&format!("the service name {target:?}"), e))?;
        let ctx = ClientCtx::new(None, name, CtxFlags::GSS_C_MUTUAL_FLAG, Some(GSS_MECH_KRB5));
        Ok(GssapiClient {
            ctx,
            state: State::Start,
        })
    }

    fn establish(&mut self, token: Option<&[u8]>) -> Result<SaslStep, SaslError> {
        let out = self
            .ctx
            .step(token, None)
            .map_err(|e| gss("establishing the Kerberos context", e))?;
        if self.ctx.is_complete() {
            self.state = State::AwaitLayers;
        } else {
            self.state = State::Establishing;
        }
        // An established context with nothing left to say still answers,
        // so the server goes on to offer its security layers.
        Ok(SaslStep::Send(out.map(|b| b.to_vec()).unwrap_or_default()))
    }

    fn choose_layer(&mut self, offer: &[u8]) -> Result<SaslStep, SaslError> {
        let offer = self
            .ctx
            .unwrap(offer)
            .map_err(|e| gss("reading the security-layer offer", e))?;
        let [layers, ..] = offer[..] else {
            return Err(SaslError::new("GSSAPI: empty security-layer offer"));
        };
        if offer.len() != 4 || layers & NO_SECURITY_LAYER == 0 {
            return Err(SaslError::new(
                "GSSAPI: the server requires a security layer (only 'none' is supported)",
            ));
        }
        // No layer, no receive buffer, no authorization id (the server
        // takes the authenticated principal).
        let reply = self
            .ctx
            .wrap(false, &[NO_SECURITY_LAYER, 0, 0, 0])
            .map_err(|e| gss("answering the security-layer offer", e))?;
        self.state = State::Done;
        Ok(SaslStep::SendLast(reply.to_vec()))
    }
}

impl SaslExchange for GssapiClient {
    fn step(&mut self, server_token: Option<&[u8]>) -> Result<SaslStep, SaslError> {
        match (self.state, server_token) {
            (State::Start, _) => self.establish(None),
            (State::Establishing, Some(token)) => self.establish(Some(token)),
            (State::AwaitLayers, Some(offer)) => self.choose_layer(offer),
            (State::Done, _) => Err(SaslError::new("GSSAPI: token after the exchange ended")),
            (_, None) => Err(SaslError::new(
                "GSSAPI: the server sent no token (it serves no SASL)",
            )),
        }
    }
}
