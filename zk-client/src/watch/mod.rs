//! Watches: the client-side registry and the handles users hold.
//!
//! One-shot watches (`exists_watch`, `get_data_watch`, `get_children_watch`)
//! resolve once, as futures ([`OneshotWatch`]). Persistent and persistent
//! recursive watches (`add_watch`) are [`PersistentWatch`] streams. Both
//! survive reconnects: the client re-registers every live watch with the
//! last zxid it saw, so one-shot watches still fire for changes made while
//! disconnected; persistent streams yield [`WatchEvent::Resync`] because
//! the server does not replay what they missed. A persistent stream holds a
//! bounded number of events ([`crate::ClientBuilder::watch_buffer`]); a
//! reader that falls that far behind gets [`WatchEvent::Resync`] where
//! events were dropped, never unbounded memory or a silent loss. When the session ends, every
//! watch receives a terminal event ([`WatchEvent::Expired`],
//! [`WatchEvent::Closed`], ...).

mod event;
#[cfg(feature = "runtime")]
mod handle;
#[cfg(feature = "runtime")]
mod queue;
mod registry;

pub use event::{WatchEvent, WatchedEvent};
#[cfg(feature = "runtime")]
pub use handle::{OneshotWatch, PersistentWatch};
#[cfg(feature = "runtime")]
pub(crate) use queue::{event_queue, EventSender};
pub use registry::{WatchKind, WatchRegistry, WatchSink, WatcherId};
