//! The history of client operations: what each process invoked, when, and
//! what came back.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A client process of a workload (one worker; it may go through several
/// sessions).
pub type ProcessId = u32;

/// Index of an operation in its [`History`].
pub type OpId = usize;

/// What a process asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Read a register (getData).
    Read {
        /// The register.
        key: String,
    },
    /// Read a register once the ensemble is quiescent (the final state;
    /// linearizable, unlike ordinary ZooKeeper reads).
    FinalRead {
        /// The register.
        key: String,
    },
    /// Write a register unconditionally (setData, version -1).
    Write {
        /// The register.
        key: String,
        /// The value written (unique in the history).
        value: u64,
    },
    /// Compare-and-set a register by version (setData with a version).
    Cas {
        /// The register.
        key: String,
        /// The version the register must have.
        expect: i32,
        /// The value written (unique in the history).
        value: u64,
    },
    /// Create a sequential node: a unique id.
    CreateId,
    /// Put an item in the queue (a sequential node holding it).
    Put {
        /// The item (unique per put, repeated only by a retry).
        item: u64,
    },
    /// Take a queue entry: delete it (the delete is the claim).
    Take {
        /// The item read from the entry before deleting it.
        item: u64,
        /// The entry's sequence number, when the taker knows it (a
        /// recipe's `take` returns only the item).
        seq: Option<u64>,
    },
    /// A take that may have removed some entry without delivering it, the
    /// taker not knowing which: a recipe that skips an entry whose delete
    /// outcome was lost, or a take that failed part-way. Always
    /// [`Ret::Unknown`]; each excuses one undelivered item.
    TakeInDoubt,
    /// Acquire the lock.
    Acquire,
    /// Write the resource the lock guards, fenced by the holder's lock node
    /// (a multi: check the lock node, set the resource).
    GuardedWrite {
        /// The holder's fencing token (czxid of its lock node).
        token: i64,
        /// The value written.
        value: u64,
    },
    /// Release the lock.
    Release {
        /// The holder's fencing token.
        token: i64,
    },
    /// Create an ephemeral node.
    CreateEphemeral {
        /// Its path.
        path: String,
    },
    /// Close the session.
    Close,
    /// The process saw its session expire (completes at once).
    SessionLost,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ret {
    /// Done, nothing to report.
    Ok,
    /// A register's value and version (reads), or a write's value and the
    /// version it produced.
    Register {
        /// The value.
        value: u64,
        /// The version.
        version: i32,
    },
    /// A sequential node's number.
    Id(u64),
    /// A lock's fencing token.
    Token(i64),
    /// The operation failed and certainly had no effect (`code` names why:
    /// `BadVersion`, `NoNode`, ...).
    Fail(String),
    /// No answer (connection loss, timeout): it may or may not have taken
    /// effect.
    Unknown,
    /// Not completed yet.
    Pending,
}

impl Ret {
    /// What an error says about the operation's effect: a definite failure
    /// for the codes the server answers after deciding (`BadVersion`,
    /// `NoNode`, `NodeExists`, `NotEmpty`), unknown for anything else
    /// (connection loss, timeouts, expiry, closing).
    pub fn from_error(e: &zk_client::Error) -> Ret {
        use zk_client::ErrorCode;
        const DEFINITE: [ErrorCode; 4] = [
            ErrorCode::BadVersion,
            ErrorCode::NoNode,
            ErrorCode::NodeExists,
            ErrorCode::NotEmpty,
        ];
        match e.code() {
            Some(code) if DEFINITE.contains(&code) => Ret::Fail(format!("{code:?}")),
            _ => Ret::Unknown,
        }
    }

    /// Whether the outcome is known (not `Unknown` or `Pending`).
    pub fn is_definite(&self) -> bool {
        !matches!(self, Ret::Unknown | Ret::Pending)
    }

    /// Whether the operation failed with this code.
    pub fn failed_with(&self, code: &str) -> bool {
        matches!(self, Ret::Fail(c) if c == code)
    }
}

/// One operation: invocation and completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryOp {
    /// Its index in the history.
    pub id: OpId,
    /// The process that invoked it.
    pub process: ProcessId,
    /// The session it was sent on (0 if none yet).
    pub session: i64,
    /// What was asked.
    pub call: Call,
    /// When it was invoked (since the run started).
    pub invoke: Duration,
    /// When it completed, if it did (unknown outcomes never complete).
    pub complete: Option<Duration>,
    /// What came back.
    pub ret: Ret,
    /// The zxid of the reply (or of the error reply), when there was one.
    pub zxid: Option<i64>,
}

impl fmt::Display for HistoryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = match self.complete {
            Some(c) => format!("{:.3}s", c.as_secs_f64()),
            None => "-".into(),
        };
        let zxid = self.zxid.map_or("-".into(), |z| format!("{z:#x}"));
        write!(
            f,
            "#{:<5} p{:<3} s={:#x} [{:.3}s..{}] {:?} -> {:?} zxid={}",
            self.id,
            self.process,
            self.session,
            self.invoke.as_secs_f64(),
            done,
            self.call,
            self.ret,
            zxid
        )
    }
}

/// Every operation of a run, in invocation order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    ops: Vec<HistoryOp>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// Records an invocation; complete it with [`History::complete`].
    pub fn invoke(&mut self, process: ProcessId, session: i64, call: Call, at: Duration) -> OpId {
        let id = self.ops.len();
        self.ops.push(HistoryOp {
            id,
            process,
            session,
            call,
            invoke: at,
            complete: None,
            ret: Ret::Pending,
            zxid: None,
        });
        id
    }

    /// Records the outcome of `op`. An `Unknown` outcome keeps no
    /// completion time: the operation may take effect at any later time.
    pub fn complete(&mut self, op: OpId, at: Duration, ret: Ret, zxid: Option<i64>) {
        if let Some(o) = self.ops.get_mut(op) {
            o.complete = ret.is_definite().then_some(at);
            o.ret = ret;
            o.zxid = zxid;
        }
    }

    /// Records an operation invoked and completed at once.
    pub fn record(
        &mut self,
        process: ProcessId,
        session: i64,
        call: Call,
        at: Duration,
        ret: Ret,
        zxid: Option<i64>,
    ) -> OpId {
        let id = self.invoke(process, session, call, at);
        self.complete(id, at, ret, zxid);
        id
    }

    /// Marks every pending operation as unknown (the run ended before they
    /// completed).
    pub fn close_pending(&mut self) {
        for o in &mut self.ops {
            if o.ret == Ret::Pending {
                o.ret = Ret::Unknown;
            }
        }
    }

    /// The operations, in invocation order.
    pub fn ops(&self) -> &[HistoryOp] {
        &self.ops
    }

    /// The number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Operations whose outcome is `Unknown`.
    pub fn unknown_count(&self) -> usize {
        self.ops.iter().filter(|o| o.ret == Ret::Unknown).count()
    }
}

/// A shared handle on a history, for workers recording concurrently.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<History>>,
}

impl Recorder {
    /// A recorder over an empty history.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    fn lock(&self) -> MutexGuard<'_, History> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// See [`History::invoke`].
    pub fn invoke(&self, process: ProcessId, session: i64, call: Call, at: Duration) -> OpId {
        self.lock().invoke(process, session, call, at)
    }

    /// See [`History::complete`].
    pub fn complete(&self, op: OpId, at: Duration, ret: Ret, zxid: Option<i64>) {
        self.lock().complete(op, at, ret, zxid);
    }

    /// See [`History::record`].
    pub fn record(
        &self,
        process: ProcessId,
        session: i64,
        call: Call,
        at: Duration,
        ret: Ret,
        zxid: Option<i64>,
    ) -> OpId {
        self.lock().record(process, session, call, at, ret, zxid)
    }

    /// The operations still pending.
    pub fn pending(&self) -> Vec<HistoryOp> {
        self.lock()
            .ops
            .iter()
            .filter(|o| o.ret == Ret::Pending)
            .cloned()
            .collect()
    }

    /// A copy of the history so far, pending operations marked unknown.
    pub fn snapshot(&self) -> History {
        let mut h = self.lock().clone();
        h.close_pending();
        h
    }
}
