//! Leader latch and leader selector against Curator's `LeaderLatch` and
//! `LeaderSelector` (twin: `Leaders.java`): every contender leads once,
//! marks it with an ephemeral marker and is then killed (its session
//! closed without closing the recipe).

use super::harness::{Harness, Result};
use std::time::Duration;
use zk_recipes::{LeaderElection, LeaderLatch};

/// `leader-latch`.
pub async fn latch(h: &Harness, phase: &str) -> Result<()> {
    if phase == "layout" {
        let c = h.new_client().await?;
        let root = h.layout_root(&c).await?;
        let latch = LeaderLatch::new(
            &c,
            format!("{root}/app/latch"),
            format!("layout-{}", h.side),
        );
        latch.start();
        latch.await_leadership().await?;
        h.dump(&c, &root).await?;
        latch.close().await?;
        return h.dump_after_reaping(&c, &root).await;
    }
    let first = h.new_client().await?;
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let who = h.who(k);
            let latch = LeaderLatch::new(&c, h.path("latch"), who.clone());
            latch.start();
            if !latch
                .await_leadership_timeout(Duration::from_secs(120))
                .await?
            {
                h.violation(format!("{who} never became leader"));
                return Ok(());
            }
            h.enter(&c, "leader", &who).await?;
            h.log(&c, &format!("{who} leads")).await?;
            tokio::time::sleep(Duration::from_millis(30)).await;
            // Killed while leading: marker and latch node go with the session.
            c.close().await?;
            drop(latch);
            Ok(())
        }
    })
    .await;
    h.expect_log(&first, h.peers * h.contenders).await
}

/// `leader-selector`: Curator's `LeaderSelector` is a mutex on its path;
/// ours is [`LeaderElection`]. Odd contenders are killed while leading,
/// even ones finish their term.
pub async fn selector(h: &Harness, phase: &str) -> Result<()> {
    if phase == "layout" {
        let c = h.new_client().await?;
        let root = h.layout_root(&c).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        let handle = LeaderElection::new(&c, format!("{root}/app/sel")).run(move |_| {
            let tx = tx.lock().expect("tx").take();
            async move {
                if let Some(tx) = tx {
                    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
                    let _ = tx.send(done_tx);
                    let _ = done_rx.await;
                }
            }
        });
        let done = rx.await?;
        h.dump(&c, &root).await?;
        let _ = done.send(());
        handle.stop().await;
        return h.dump_after_reaping(&c, &root).await;
    }
    let first = h.new_client().await?;
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let who = h.who(k);
            let killed = k % 2 == 1;
            let (led_tx, led_rx) = tokio::sync::oneshot::channel::<()>();
            let led_tx = std::sync::Mutex::new(Some(led_tx));
            let (hh, cc, w) = (h.clone(), c.clone(), who.clone());
            let handle = LeaderElection::new(&c, h.path("sel"))
                .with_id(who.clone())
                .run(move |_| {
                    let (h, c, who) = (hh.clone(), cc.clone(), w.clone());
                    let led = led_tx.lock().expect("led").take();
                    async move {
                        let result: Result<()> = async {
                            h.enter(&c, "leader", &who).await?;
                            h.log(&c, &format!("{who} leads")).await?;
                            tokio::time::sleep(Duration::from_millis(30)).await;
                            if killed {
                                c.close().await?;
                            } else {
                                h.leave(&c, "leader").await?;
                            }
                            Ok(())
                        }
                        .await;
                        if let Err(e) = result {
                            h.violation(format!("{who}'s term failed: {e}"));
                        }
                        if let Some(led) = led {
                            let _ = led.send(());
                        }
                        if killed {
                            std::future::pending::<()>().await;
                        }
                    }
                });
            if tokio::time::timeout(Duration::from_secs(120), led_rx)
                .await
                .is_err()
            {
                h.violation(format!("{who} never became leader"));
            }
            if killed {
                drop(handle);
            } else {
                handle.stop().await;
            }
            Ok(())
        }
    })
    .await;
    h.expect_log(&first, h.peers * h.contenders).await
}
