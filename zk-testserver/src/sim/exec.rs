//! The workload side of the simulator: the [`World`] and [`Session`] that
//! workload processes see, and the mailboxes between them and the
//! simulation.
//!
//! Processes are futures run by a single-threaded executor that the
//! simulation polls between events. A process never touches the simulation:
//! it leaves requests (calls, connects, closes, sleeps) in [`Shared`], and
//! the simulation carries them out and completes their slots, waking the
//! process. Polling order is the order of wakes, so it is deterministic.

use crate::workload::{Session, WatchLog, World};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use zk_client::proto::{AddWatchRequest, Request, Response};
use zk_client::session::{Reply, ReplySink};
use zk_client::watch::{WatchEvent, WatchSink};
use zk_client::{Error, ErrorCode};

/// Identifies a simulated client (one session).
pub type ClientId = usize;

/// A one-shot result slot with the waker of the task awaiting it.
pub struct Slot<T> {
    value: RefCell<Option<T>>,
    waker: RefCell<Option<Waker>>,
}

impl<T> Slot<T> {
    /// An empty slot.
    pub fn new_rc() -> Rc<Slot<T>> {
        Rc::new(Slot {
            value: RefCell::new(None),
            waker: RefCell::new(None),
        })
    }

    /// Fills the slot and wakes its task.
    pub fn fill(&self, value: T) {
        *self.value.borrow_mut() = Some(value);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

/// Awaits a slot.
struct SlotFuture<T>(Rc<Slot<T>>);

impl<T> Future for SlotFuture<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.0.value.borrow_mut().take() {
            Some(v) => Poll::Ready(v),
            None => {
                *self.0.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// What a process waiting for a new session gets: the client and its
/// session id.
pub type Connected = Result<(ClientId, i64), Error>;

/// The result of a request, as a session machine completes it.
pub type CallResult = Result<(i64, Response), Error>;

/// Where a session machine delivers a reply.
pub struct ReplySlot(pub Rc<Slot<CallResult>>);

impl ReplySink for ReplySlot {
    fn complete(self, result: Result<Reply, Error>) {
        self.0.fill(result.map(|r| (r.zxid, r.response)));
    }
}

/// Where a session machine delivers watch events.
pub struct WatchSlot(pub WatchLog);

impl WatchSink for WatchSlot {
    fn deliver(&mut self, event: WatchEvent) -> bool {
        if let WatchEvent::Node(e) = event {
            self.0.push(e.zxid);
        }
        true
    }
}

/// A request from a process to the simulation.
pub enum Request2Sim {
    /// Submit `request` on `client`'s session machine.
    Call {
        /// The client.
        client: ClientId,
        /// The request.
        request: Request,
        /// A persistent recursive watcher to register with it.
        watch: Option<WatchLog>,
        /// Where the reply goes.
        slot: Rc<Slot<CallResult>>,
    },
    /// Close `client`'s session.
    Close {
        /// The client.
        client: ClientId,
        /// Where the outcome goes.
        slot: Rc<Slot<CallResult>>,
    },
    /// Open a new client (connecting to this member only, if given); the
    /// slot gets its id and session id once the session is established.
    Connect(Rc<Slot<Connected>>, Option<crate::zab::MemberId>),
    /// Crash `client` (it stops; its session expires on the server).
    Abandon(ClientId),
}

/// State shared by the simulation and the processes.
#[derive(Default)]
pub struct Shared {
    /// Simulated time since the start.
    pub now: Duration,
    /// Whether processes should go on.
    pub running: bool,
    /// Requests not yet carried out, in order.
    pub requests: VecDeque<Request2Sim>,
    /// Sleeping processes by wake-up time (and a sequence number).
    pub timers: BTreeMap<(Duration, u64), Waker>,
    pub(super) timer_seq: u64,
}

impl Shared {
    /// The earliest sleep deadline.
    pub fn next_timer(&self) -> Option<Duration> {
        self.timers.keys().next().map(|(t, _)| *t)
    }

    /// Wakes every process whose sleep is over.
    pub fn wake_due(&mut self) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            entry.remove().wake();
        }
    }
}

/// The simulated [`World`].
#[derive(Clone)]
pub struct SimWorld {
    /// The shared state.
    pub shared: Rc<RefCell<Shared>>,
}

struct Sleep {
    shared: Rc<RefCell<Shared>>,
    until: Duration,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.shared.borrow_mut();
        if s.now >= self.until {
            return Poll::Ready(());
        }
        let seq = s.timer_seq;
        s.timer_seq += 1;
        let until = self.until;
        s.timers.insert((until, seq), cx.waker().clone());
        Poll::Pending
    }
}

impl World for SimWorld {
    type Session = SimSession;

    fn elapsed(&self) -> Duration {
        self.shared.borrow().now
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> {
        let until = self.elapsed() + d;
        Sleep {
            shared: self.shared.clone(),
            until,
        }
    }

    fn connect(&self) -> impl Future<Output = Result<SimSession, Error>> {
        self.connect_to(None)
    }

    fn running(&self) -> bool {
        self.shared.borrow().running
    }
}

impl SimWorld {
    /// Opens a session that only ever connects to `member` (any member if
    /// None).
    pub fn connect_to(
        &self,
        member: Option<crate::zab::MemberId>,
    ) -> impl Future<Output = Result<SimSession, Error>> {
        let slot = Slot::new_rc();
        self.shared
            .borrow_mut()
            .requests
            .push_back(Request2Sim::Connect(slot.clone(), member));
        let world = self.clone();
        async move {
            let (client, session_id) = SlotFuture(slot).await?;
            Ok(SimSession {
                world,
                client,
                session_id: Rc::new(Cell::new(session_id)),
            })
        }
    }
}

/// A simulated [`Session`]: requests go to one client's session machine.
#[derive(Clone)]
pub struct SimSession {
    world: SimWorld,
    client: ClientId,
    session_id: Rc<Cell<i64>>,
}

impl SimSession {
    /// The simulated client that carries this session.
    pub fn client(&self) -> ClientId {
        self.client
    }

    fn send(&self, request: Request, watch: Option<WatchLog>) -> SlotFuture<CallResult> {
        let slot = Slot::new_rc();
        self.world
            .shared
            .borrow_mut()
            .requests
            .push_back(Request2Sim::Call {
                client: self.client,
                request,
                watch,
                slot: slot.clone(),
            });
        SlotFuture(slot)
    }
}

impl Session for SimSession {
    fn call(&self, request: Request) -> impl Future<Output = CallResult> {
        self.send(request, None)
    }

    fn session_id(&self) -> i64 {
        self.session_id.get()
    }

    fn watch(&self, path: &str) -> impl Future<Output = Result<WatchLog, Error>> {
        let log = WatchLog::new();
        let request = Request::AddWatch(AddWatchRequest {
            path: path.into(),
            mode: 1,
        });
        let reply = self.send(request, Some(log.clone()));
        async move { reply.await.map(|_| log) }
    }

    fn close(&self) -> impl Future<Output = Result<(), Error>> {
        let slot = Slot::new_rc();
        self.world
            .shared
            .borrow_mut()
            .requests
            .push_back(Request2Sim::Close {
                client: self.client,
                slot: slot.clone(),
            });
        async move { SlotFuture(slot).await.map(|_| ()) }
    }

    fn abandon(&self) {
        self.world
            .shared
            .borrow_mut()
            .requests
            .push_back(Request2Sim::Abandon(self.client));
    }
}

/// The error a connect gets when the run ends before the session is up.
pub fn gave_up() -> Error {
    Error::code_error(ErrorCode::ConnectionLoss)
}
