//! Histories of client operations and the checkers that judge them.
//!
//! Workloads record every operation in a [`History`] (through a shared
//! [`Recorder`]): which process invoked what, when, what came back and with
//! which zxid. An operation whose reply never came (connection loss,
//! timeout) is recorded as [`Ret::Unknown`]: it may or may not have taken
//! effect, and every checker treats it so.
//!
//! The checkers, one promise each:
//!
//! | module | promise |
//! |---|---|
//! | [`linearizable`] | writes and CAS on a register are linearizable (WGL search) |
//! | [`sessions`] | per session: zxids never go back, reads never see the past after the future, every value read was written; watch streams move forward |
//! | [`lost`] | no acknowledged write is lost |
//! | [`ids`] | sequential ids are unique, ordered, never lost |
//! | [`queue`] | queue deliveries: no loss, no duplicate beyond what a retried put allows, total order |
//! | [`lock`] | at most one lock holder, in fencing-token order |
//! | [`semaphore`] | at most `max` lease holders at once |
//! | [`members`] | equal digests and session tables on every member at quiescence; no ephemeral outlives its session |
//!
//! Each checker returns a [`Violation`] naming the broken promise with an
//! excerpt of the history, and each is tested against hand-made violating
//! histories (and tricky valid ones) in its own module.
//!
//! ```
//! use std::time::Duration;
//! use zk_testserver::check::{linearizable, Call, History, Ret};
//!
//! let mut h = History::new();
//! let ms = Duration::from_millis;
//! // p1 writes 10 and is told it produced version 1; p2 then writes 20,
//! // starting after p1's write completed, but also gets version 1.
//! let a = h.invoke(1, 0x10, Call::Write { key: "r".into(), value: 10 }, ms(0));
//! h.complete(a, ms(5), Ret::Register { value: 10, version: 1 }, Some(0x101));
//! let b = h.invoke(2, 0x20, Call::Write { key: "r".into(), value: 20 }, ms(6));
//! h.complete(b, ms(9), Ret::Register { value: 20, version: 1 }, Some(0x102));
//! let violation = linearizable::check(&h).unwrap_err();
//! assert_eq!(violation.checker, "linearizable");
//! ```

mod history;
pub mod ids;
pub mod linearizable;
pub mod lock;
pub mod lost;
pub mod members;
pub mod queue;
pub mod semaphore;
pub mod sessions;
mod violation;

pub use history::{Call, History, HistoryOp, OpId, ProcessId, Recorder, Ret};
pub use members::MemberView;
pub use sessions::WatchStream;
pub use violation::Violation;
