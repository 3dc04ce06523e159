//! The bounded queue between the connection task and a
//! [`PersistentWatch`](super::PersistentWatch): node events up to a fixed
//! number, and when the reader falls that far behind, an explicit gap
//! ([`WatchEvent::Resync`]) instead of unbounded growth or a silent drop.

use super::event::WatchEvent;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// What both ends share besides the queue itself.
#[derive(Debug, Default)]
struct Overflow {
    /// Events were dropped since the last event the reader took; the reader
    /// gets a `Resync` in their place, once it has taken everything queued
    /// before them.
    gap: AtomicBool,
    /// A terminal event that found the queue full: delivered after the
    /// queued events (nothing follows it, so no gap marker is needed).
    terminal: Mutex<Option<WatchEvent>>,
}

/// The connection task's end.
#[derive(Debug)]
pub(crate) struct EventSender {
    tx: mpsc::Sender<WatchEvent>,
    overflow: Arc<Overflow>,
    /// The newest event queued is a `Resync`. While the queue is full it is
    /// still there, unread, so events dropped meanwhile fall in its gap.
    marker_last: bool,
}

/// The watch handle's end.
#[derive(Debug)]
pub(crate) struct EventReceiver {
    rx: mpsc::Receiver<WatchEvent>,
    overflow: Arc<Overflow>,
}

/// A queue holding at most `capacity` events (at least 1).
pub(crate) fn event_queue(capacity: usize) -> (EventSender, EventReceiver) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let overflow = Arc::new(Overflow::default());
    (
        EventSender {
            tx,
            overflow: overflow.clone(),
            marker_last: false,
        },
        EventReceiver { rx, overflow },
    )
}

impl EventSender {
    /// Queues `event` without waiting. Returns false once the reader is
    /// gone. When the queue is full the event is dropped and the gap marked.
    pub(crate) fn deliver(&mut self, event: WatchEvent) -> bool {
        if event.is_terminal() {
            return match self.tx.try_send(event) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(event)) => {
                    if let Ok(mut slot) = self.overflow.terminal.lock() {
                        *slot = Some(event);
                    }
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            };
        }
        // A gap the reader has not taken yet goes first, so every event
        // after it is queued after the marker.
        if self.overflow.gap.swap(false, Ordering::AcqRel) {
            match self.tx.try_send(WatchEvent::Resync) {
                Ok(()) => self.marker_last = true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.overflow.gap.store(true, Ordering::Release);
                    return true;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
            if event == WatchEvent::Resync {
                return true;
            }
        }
        let is_marker = event == WatchEvent::Resync;
        match self.tx.try_send(event) {
            Ok(()) => {
                self.marker_last = is_marker;
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.marker_last {
                    self.overflow.gap.store(true, Ordering::Release);
                }
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

impl EventReceiver {
    /// The next event: queued events in order, a `Resync` where events were
    /// dropped, a terminal event that found the queue full, then `None`
    /// once the connection task let go of the watch.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(Some(event)),
            Poll::Ready(None) => Poll::Ready(
                self.overflow
                    .terminal
                    .lock()
                    .ok()
                    .and_then(|mut slot| slot.take()),
            ),
            // Everything queued before the gap has been taken: the marker
            // is next. (The sender marks a gap only while the queue is full,
            // so a reader waiting on an empty queue is never left behind
            // an unmarked gap.)
            Poll::Pending if self.overflow.gap.swap(false, Ordering::AcqRel) => {
                Poll::Ready(Some(WatchEvent::Resync))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::EventType;
    use crate::watch::WatchedEvent;

    fn node(zxid: i64) -> WatchEvent {
        WatchEvent::Node(WatchedEvent {
            event_type: EventType::NodeDataChanged,
            path: "/a".into(),
            zxid,
        })
    }

    fn drain(rx: &mut EventReceiver) -> Vec<WatchEvent> {
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut out = Vec::new();
        while let Poll::Ready(Some(e)) = rx.poll_recv(&mut cx) {
            out.push(e);
        }
        out
    }

    #[test]
    fn overflow_is_one_marker_where_events_were_dropped() {
        let (mut tx, mut rx) = event_queue(3);
        for zxid in 1..=10 {
            assert!(tx.deliver(node(zxid)));
        }
        // The reader catches up: the three queued, then the gap.
        assert_eq!(
            drain(&mut rx),
            vec![node(1), node(2), node(3), WatchEvent::Resync]
        );
        assert!(tx.deliver(node(11)));
        assert_eq!(drain(&mut rx), vec![node(11)]);
    }

    #[test]
    fn events_after_a_gap_queue_behind_its_marker() {
        let (mut tx, mut rx) = event_queue(2);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        tx.deliver(node(1));
        tx.deliver(node(2));
        tx.deliver(node(3)); // dropped
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(node(1))));
        tx.deliver(node(4)); // the marker takes the free slot; 4 falls in its gap
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(node(2))));
        tx.deliver(node(5));
        assert_eq!(
            drain(&mut rx),
            vec![WatchEvent::Resync, node(5)],
            "one marker for both drops, before what came after"
        );
        // A reconnect's Resync while an overflow's marker is pending is
        // the same gap: one marker.
        tx.deliver(node(6));
        tx.deliver(node(7));
        tx.deliver(node(8));
        tx.deliver(WatchEvent::Resync);
        assert_eq!(drain(&mut rx), vec![node(6), node(7), WatchEvent::Resync]);
        tx.deliver(node(9));
        tx.deliver(WatchEvent::Resync);
        assert_eq!(drain(&mut rx), vec![node(9), WatchEvent::Resync]);
    }

    #[test]
    fn a_terminal_event_is_never_lost_to_a_full_queue() {
        let (mut tx, mut rx) = event_queue(1);
        tx.deliver(node(1));
        tx.deliver(node(2));
        assert!(tx.deliver(WatchEvent::Expired));
        drop(tx); // the registry lets go after a terminal event
        assert_eq!(drain(&mut rx), vec![node(1), WatchEvent::Expired]);
    }

    #[test]
    fn a_gone_reader_is_reported() {
        let (mut tx, rx) = event_queue(4);
        drop(rx);
        assert!(!tx.deliver(node(1)));
        assert!(!tx.deliver(WatchEvent::Closed));
    }
}
