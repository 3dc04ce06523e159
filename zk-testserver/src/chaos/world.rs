//! The real [`World`]: `zk_client::Client` sessions over TCP to the
//! ensemble, tokio time. Processes run on a `LocalSet` (they are not `Send`).

use crate::workload::{Session, WatchLog, World};
use futures::StreamExt;
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};
use zk_client::proto::{Request, Response};
use zk_client::{AddWatchMode, Client, ClientBuilder, Error, ErrorCode, WatchEvent};

/// Sessions of a real ensemble, tokio time.
#[derive(Clone)]
pub struct RealWorld {
    pub(super) connect_string: String,
    pub(super) session_timeout: Duration,
    /// Longest a request may wait for its reply (then it is unknown).
    pub(super) deadline: Duration,
    pub(super) started: Instant,
    pub(super) running: Rc<Cell<bool>>,
}

impl RealWorld {
    /// A client builder for this run's ensemble, with the run's session
    /// timeout and a connect timeout of the run's request deadline (for
    /// workloads that drive `zk_client::Client`s, or recipes on them,
    /// directly).
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder(self.connect_string.clone())
            .session_timeout(self.session_timeout)
            .connect_timeout(self.deadline)
    }

    /// Longest a request of the run should wait for its reply.
    pub fn request_deadline(&self) -> Duration {
        self.deadline
    }
}

impl World for RealWorld {
    type Session = RealSession;

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(d)
    }

    fn connect(&self) -> impl Future<Output = Result<RealSession, Error>> {
        let builder = self.client_builder();
        let deadline = self.deadline;
        async move {
            let client = tokio::time::timeout(deadline * 2, builder.connect())
                .await
                .unwrap_or_else(|_| Err(Error::code_error(ErrorCode::ConnectionLoss)))?;
            Ok(RealSession {
                client: client.with_deadline(deadline),
            })
        }
    }

    fn running(&self) -> bool {
        self.running.get()
    }
}

/// A real session.
#[derive(Clone)]
pub struct RealSession {
    client: Client,
}

impl Session for RealSession {
    fn call(&self, request: Request) -> impl Future<Output = Result<(i64, Response), Error>> {
        let client = self.client.clone();
        async move { client.raw_request(request).await }
    }

    fn session_id(&self) -> i64 {
        self.client.session_id()
    }

    fn watch(&self, path: &str) -> impl Future<Output = Result<WatchLog, Error>> {
        let client = self.client.clone();
        let path = path.to_string();
        async move {
            let mut stream = client
                .add_watch(&path, AddWatchMode::PersistentRecursive)
                .await?;
            let log = WatchLog::new();
            let sink = log.clone();
            tokio::task::spawn_local(async move {
                while let Some(event) = stream.next().await {
                    match event {
                        WatchEvent::Node(e) => sink.push(e.zxid),
                        e if e.is_terminal() => return,
                        _ => {}
                    }
                }
            });
            Ok(log)
        }
    }

    fn close(&self) -> impl Future<Output = Result<(), Error>> {
        let client = self.client.clone();
        async move { client.close().await }
    }

    /// A real client cannot crash without closing its session when
    /// dropped, so it closes it.
    fn abandon(&self) {
        let client = self.client.clone();
        tokio::task::spawn_local(async move {
            client.close().await.ok();
        });
    }
}
