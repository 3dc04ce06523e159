//! Work that must not stop half-way when its caller stops waiting.
//!
//! A request sent to ZooKeeper takes effect whether or not anyone reads its
//! reply. A recipe step whose effect must be matched by a later step (an
//! item deleted must be delivered; a lock node created must be used or
//! removed) therefore cannot simply be dropped half-way: [`finish_on_drop`]
//! wraps such a step, and if the caller's future is dropped after the step
//! started, the rest of the step runs as a background task, whose output
//! goes to a handler that completes or undoes it. In the normal case nothing
//! is spawned: the step runs in the caller's future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type BoxedStep<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Handler<T> = Box<dyn FnOnce(T) + Send>;
type Hook = Box<dyn FnOnce() + Send>;

/// A step that finishes in the background if dropped once started (see the
/// module docs). Before its first poll, dropping it does nothing.
pub(crate) struct FinishOnDrop<T: Send + 'static> {
    step: Option<BoxedStep<T>>,
    abandoned: Option<Handler<T>>,
    detaching: Option<Hook>,
    started: bool,
}

/// Wraps `step`: if the returned future is dropped after its first poll
/// and before it completes, `step` is finished by a background task and its
/// output handed to `abandoned`.
pub(crate) fn finish_on_drop<F>(
    step: F,
    abandoned: impl FnOnce(F::Output) + Send + 'static,
) -> FinishOnDrop<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    FinishOnDrop {
        step: Some(Box::pin(step)),
        abandoned: Some(Box::new(abandoned)),
        detaching: None,
        started: false,
    }
}

impl<T: Send + 'static> FinishOnDrop<T> {
    /// Also calls `hook` at once (in `Drop`) when the step is handed to the
    /// background, before it finishes there.
    pub(crate) fn on_detach(mut self, hook: impl FnOnce() + Send + 'static) -> FinishOnDrop<T> {
        self.detaching = Some(Box::new(hook));
        self
    }
}

impl<T: Send + 'static> Future for FinishOnDrop<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.started = true;
        let Some(step) = self.step.as_mut() else {
            // Polled after completion: a caller bug; never resolve again.
            return Poll::Pending;
        };
        match step.as_mut().poll(cx) {
            Poll::Ready(out) => {
                self.step = None;
                self.abandoned = None;
                Poll::Ready(out)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: Send + 'static> Drop for FinishOnDrop<T> {
    fn drop(&mut self) {
        let (Some(step), Some(abandoned)) = (self.step.take(), self.abandoned.take()) else {
            return;
        };
        if !self.started {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                if let Some(hook) = self.detaching.take() {
                    hook();
                }
                handle.spawn(async move { abandoned(step.await) });
            }
            // Only when the runtime itself is going away, and the session
            // with it.
            Err(_) => tracing::warn!("no runtime to finish an abandoned recipe step"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn completes_in_place_without_the_handler() {
        let handled = Arc::new(AtomicUsize::new(0));
        let h = handled.clone();
        let out = finish_on_drop(async { 7 }, move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        })
        .await;
        assert_eq!(out, 7);
        assert_eq!(handled.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_started_step_finishes_in_the_background_when_dropped() {
        let (go, wait) = oneshot::channel::<u32>();
        let (done, finished) = oneshot::channel();
        let mut step = Box::pin(finish_on_drop(
            async move { wait.await.unwrap_or(0) },
            |v| {
                let _ = done.send(v);
            },
        ));
        assert!(futures::poll!(step.as_mut()).is_pending());
        drop(step);
        go.send(5).unwrap();
        assert_eq!(finished.await.unwrap(), 5);
    }

    #[tokio::test]
    async fn an_unpolled_step_is_not_run() {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let step = finish_on_drop(
            async move {
                r.fetch_add(1, Ordering::SeqCst);
            },
            |_| {},
        );
        drop(step);
        tokio::task::yield_now().await;
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}
