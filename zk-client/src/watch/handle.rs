//! The handles users hold for their watches.

use super::event::WatchEvent;
use super::queue::EventReceiver;
use super::registry::WatcherId;
use futures::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot};

/// Unregisters a watcher when its handle is dropped before it finished.
#[derive(Debug)]
struct Registration {
    id: WatcherId,
    unwatch: mpsc::UnboundedSender<WatcherId>,
    done: bool,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.done {
            // The connection task may be gone already; nothing left to clean.
            let _ = self.unwatch.send(self.id);
        }
    }
}

/// A one-shot watch: resolves with the first event on the node (or a
/// terminal event if the watch can no longer fire). Dropping it unregisters
/// the watcher locally.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::connect(zk.connect_string()).await?;
/// # client.create("/config", "v1", zk_client::CreateMode::Persistent).await?;
/// let (data, _stat, watch) = client.get_data_watch("/config").await?;
/// println!("now: {data:?}");
/// # client.set_data("/config", "v2", None).await?; // someone changes it
/// let event = watch.await;
/// println!("changed: {event:?}");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a watch does nothing unless awaited"]
pub struct OneshotWatch {
    /// Boxed: the channel's shared state then holds a pointer rather than
    /// the event, which keeps a waiting watch small (a client may hold
    /// hundreds of thousands); the one event a watch gets is boxed once.
    rx: oneshot::Receiver<Box<WatchEvent>>,
    registration: Registration,
}

impl OneshotWatch {
    pub(crate) fn new(
        rx: oneshot::Receiver<Box<WatchEvent>>,
        id: WatcherId,
        unwatch: mpsc::UnboundedSender<WatcherId>,
    ) -> OneshotWatch {
        OneshotWatch {
            rx,
            registration: Registration {
                id,
                unwatch,
                done: false,
            },
        }
    }
}

impl Future for OneshotWatch {
    type Output = WatchEvent;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WatchEvent> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                self.registration.done = true;
                // The connection task ended without a word: the client is gone.
                Poll::Ready(result.map_or(WatchEvent::Closed, |event| *event))
            }
        }
    }
}

/// A persistent (optionally recursive) watch: a stream of every event on the
/// node (and, if recursive, its descendants) until the session ends or the
/// watch is removed. The stream ends after a terminal event. Dropping it
/// unregisters the watcher, and the server-side watch once no other handle
/// needs it.
///
/// The stream yields [`WatchEvent::Resync`] where events may be missing:
/// after a reconnect (the server does not replay changes made meanwhile),
/// and where events were dropped because the reader fell behind by more
/// than [`crate::ClientBuilder::watch_buffer`] events. Memory stays bounded
/// however slow the reader; on `Resync`, re-read the state you follow.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct PersistentWatch {
    rx: EventReceiver,
    registration: Registration,
    ended: bool,
}

impl PersistentWatch {
    pub(crate) fn new(
        rx: EventReceiver,
        id: WatcherId,
        unwatch: mpsc::UnboundedSender<WatcherId>,
    ) -> PersistentWatch {
        PersistentWatch {
            rx,
            registration: Registration {
                id,
                unwatch,
                done: false,
            },
            ended: false,
        }
    }
}

impl Stream for PersistentWatch {
    type Item = WatchEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(event)) => {
                if event.is_terminal() {
                    self.ended = true;
                    self.registration.done = true;
                }
                Poll::Ready(Some(event))
            }
            Poll::Ready(None) => {
                self.ended = true;
                self.registration.done = true;
                Poll::Ready(Some(WatchEvent::Closed))
            }
        }
    }
}
