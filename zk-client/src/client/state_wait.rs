//! Waiting for a connection state: the one walk over published transitions
//! that [`Client::wait_for_state`](super::Client::wait_for_state) and
//! [`WeakClient::wait_for_state`](super::WeakClient::wait_for_state) share.

use crate::session::driver::SessionInfo;
use crate::session::ConnectionState;
use tokio::sync::{broadcast, watch};

/// Waits until `pred` holds for the current state or for a later
/// transition, in order (a passing state such as `Lost` before a renewed
/// session is not missed), and returns that state; `Closed` once the
/// connection task is gone.
///
/// `transitions` must be subscribed before `info` is read, so that nothing
/// falls between the current state and the first transition seen.
pub(super) async fn wait_for_state(
    mut transitions: broadcast::Receiver<ConnectionState>,
    mut info: watch::Receiver<SessionInfo>,
    pred: impl Fn(ConnectionState) -> bool,
) -> ConnectionState {
    use broadcast::error::RecvError;
    let current = info.borrow_and_update().state;
    if pred(current) {
        return current;
    }
    loop {
        tokio::select! {
            // Transitions first: the task publishes each one right after the
            // state itself.
            biased;
            t = transitions.recv() => match t {
                Ok(s) if pred(s) => return s,
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    let s = info.borrow().state;
                    if pred(s) {
                        return s;
                    }
                }
                Err(RecvError::Closed) => return ConnectionState::Closed,
            },
            changed = info.changed() => {
                if changed.is_err() {
                    // The connection task is gone; what it published last is
                    // still in `transitions`.
                    while let Ok(s) = transitions.try_recv() {
                        if pred(s) {
                            return s;
                        }
                    }
                    return ConnectionState::Closed;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn info(state: ConnectionState) -> SessionInfo {
        SessionInfo {
            state,
            session_id: 1,
            timeout: Duration::from_secs(1),
            server: None,
        }
    }

    /// States published as the task does: the state, then the transition.
    fn publish(
        info_tx: &watch::Sender<SessionInfo>,
        tx: &broadcast::Sender<ConnectionState>,
        state: ConnectionState,
    ) {
        info_tx.send_replace(info(state));
        let _ = tx.send(state);
    }

    #[tokio::test]
    async fn a_passing_state_is_seen_after_the_state_moved_on() {
        let (info_tx, info_rx) = watch::channel(info(ConnectionState::Connected));
        let (tx, _) = broadcast::channel(8);
        let waiter = wait_for_state(tx.subscribe(), info_rx, |s| s == ConnectionState::Lost);
        for s in [
            ConnectionState::Suspended,
            ConnectionState::Lost,
            ConnectionState::Connected,
        ] {
            publish(&info_tx, &tx, s);
        }
        assert_eq!(waiter.await, ConnectionState::Lost);
    }

    #[tokio::test]
    async fn the_current_state_passes_at_once() {
        let (_info_tx, info_rx) = watch::channel(info(ConnectionState::Connected));
        let (tx, _) = broadcast::channel(8);
        let got = wait_for_state(tx.subscribe(), info_rx, |s| s.is_connected()).await;
        assert_eq!(got, ConnectionState::Connected);
    }

    #[tokio::test]
    async fn a_gone_task_gives_its_last_transitions_then_closed() {
        let (info_tx, info_rx) = watch::channel(info(ConnectionState::Connected));
        let (tx, _) = broadcast::channel(8);
        let rx = tx.subscribe();
        publish(&info_tx, &tx, ConnectionState::Lost);
        drop((info_tx, tx));
        let lost = wait_for_state(rx.resubscribe(), info_rx.clone(), |s| s.is_terminal());
        assert_eq!(lost.await, ConnectionState::Lost);
        let never = wait_for_state(rx, info_rx, |s| s == ConnectionState::Reconnected);
        assert_eq!(never.await, ConnectionState::Closed);
    }

    #[tokio::test]
    async fn a_lagging_waiter_reads_the_present() {
        let (info_tx, info_rx) = watch::channel(info(ConnectionState::Connected));
        let (tx, _) = broadcast::channel(1);
        let waiter = wait_for_state(tx.subscribe(), info_rx, |s| s == ConnectionState::Lost);
        publish(&info_tx, &tx, ConnectionState::Suspended);
        publish(&info_tx, &tx, ConnectionState::Lost);
        publish(&info_tx, &tx, ConnectionState::Suspended);
        // Lagged past `Lost`; the present passes once it is `Lost` again.
        let waiter = tokio::spawn(waiter);
        tokio::task::yield_now().await;
        publish(&info_tx, &tx, ConnectionState::Lost);
        assert_eq!(waiter.await.unwrap(), ConnectionState::Lost);
    }
}
