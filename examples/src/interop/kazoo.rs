//! kazoo's `NonBlockingLease` and `SetPartitioner` against zk-recipes'
//! twins (twin: `scripts/interop/kazoo_twins.py`).

use super::harness::{Harness, Result};
use std::time::Duration;
use zk_client::CreateMode;
use zk_recipes::{NonBlockingLease, PartitionState, SetPartitioner};

/// `kazoo-lease`: 4 + 4 contenders obtain one lease at once; exactly one
/// may get it.
pub async fn lease(h: &Harness) -> Result<()> {
    let first = h.new_client().await?;
    h.gate(&first, "start").await?;
    h.herd(|k| {
        let h = h.clone();
        async move {
            let c = h.new_client().await?;
            let who = h.who(k);
            let hour = Duration::from_secs(3600);
            if NonBlockingLease::obtain(&c, &h.path("lease"), hour, &who).await? {
                h.log(&c, &who).await?;
            }
            Ok(())
        }
    })
    .await;
    h.gate(&first, "done").await?;
    let winners = h.count(&first, "log").await?;
    h.check(winners == 1, || {
        format!("{winners} contenders obtained the lease, expected 1")
    });
    Ok(())
}

/// `kazoo-partitioner`: 2 + 2 members share 10 items.
pub async fn partitioner(h: &Harness) -> Result<()> {
    let items: Vec<String> = (0..10).map(|i| format!("item-{i}")).collect();
    let first = h.new_client().await?;
    h.gate(&first, "start").await?;
    let members = h.peers * h.contenders;
    h.herd(|k| {
        let (h, items) = (h.clone(), items.clone());
        async move {
            let c = h.new_client().await?;
            let who = h.who(k);
            let p = SetPartitioner::start(&c, h.path("work"), items, who.clone())?
                .with_time_boundary(Duration::from_secs(1));
            let mine = tokio::time::timeout(Duration::from_secs(90), async {
                loop {
                    let mut state = p.state();
                    let now = *state.wait_for(|s| *s != PartitionState::Allocating).await?;
                    match now {
                        PartitionState::Release => p.release_set().await?,
                        PartitionState::Failure => return Err("partitioner failed".into()),
                        _ => {
                            let mine = p.partition();
                            let party = c.get_children(&h.path("work/party")).await?.len();
                            // A division made before everyone joined is
                            // released later.
                            if party == members {
                                return Ok::<_, super::harness::BoxError>(mine);
                            }
                            state.wait_for(|s| *s != PartitionState::Acquired).await?;
                        }
                    }
                }
            })
            .await??;
            c.create_all(
                &h.path(&format!("parts/{who}")),
                mine.join(","),
                CreateMode::Persistent,
            )
            .await?;
            h.gate_as(&c, "parts", &who, members).await?;
            p.finish().await?;
            Ok(())
        }
    })
    .await;
    h.gate(&first, "done").await?;
    let mut owned = Vec::new();
    for who in first.get_children(&h.path("parts")).await? {
        let (raw, _) = first.get_data(&h.path(&format!("parts/{who}"))).await?;
        owned.extend(
            String::from_utf8_lossy(&raw)
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
    }
    owned.sort();
    let mut want = items;
    want.sort();
    h.check(owned == want, || {
        format!("items owned {owned:?}, expected each of {want:?} once")
    });
    Ok(())
}
