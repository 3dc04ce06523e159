//! LeaderLatch and LeaderElection (pitfalls 2 and 9 for elections).

mod common;

use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use zk_client::ConnectionState;
use zk_recipes::{LeaderElection, LeaderLatch};

#[tokio::test]
async fn latch_one_leader_and_handover() {
    let env = env().await;
    let admin = env.client().await;
    let mut latches = Vec::new();
    let mut clients = Vec::new();
    for i in 0..3 {
        let c = env.client().await;
        let latch = LeaderLatch::new(&c, "/latch", format!("p{i}"));
        latch.start();
        latches.push(latch);
        clients.push(c);
        env.wait_children(&admin, "/latch", |c| c.len() == i + 1)
            .await;
    }
    within(PATIENCE, latches[0].await_leadership())
        .await
        .unwrap();
    // p2 joined through another client; on an ensemble p1's member may be
    // behind until p1's client syncs.
    clients[1].sync("/latch").await.unwrap();
    let participants = latches[1].participants().await.unwrap();
    assert_eq!(participants.len(), 3);
    assert_eq!(participants[0].id, "p0");
    assert!(participants[0].is_leader && !participants[1].is_leader);
    assert_eq!(latches.iter().filter(|l| l.is_leader()).count(), 1);
    assert!(latches[0].node_path().unwrap().contains("-latch-"));

    latches[0].close().await.unwrap();
    within(PATIENCE, latches[1].await_leadership())
        .await
        .unwrap();
    assert!(!latches[0].is_leader() && !latches[2].is_leader());
    assert!(latches[0].await_leadership().await.is_err(), "closed");
    latches[1].close().await.unwrap();
    within(PATIENCE, latches[2].await_leadership())
        .await
        .unwrap();
    latches[2].close().await.unwrap();
    env.wait_children(&admin, "/latch", |c| c.is_empty()).await;
}

/// Pitfall 2: the client considers its session lost while the server keeps
/// it (and the latch node) alive. The old node is first in line but owned by
/// the old session: leadership must not be granted through it.
#[tokio::test]
async fn pitfall2_latch_no_leadership_through_a_stale_node() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let latch = LeaderLatch::new(&client, "/latch2", "me");
    latch.start();
    within(PATIENCE, latch.await_leadership()).await.unwrap();
    let old_node = latch.node_path().unwrap();
    let s1 = client.session_id();

    let lost = {
        let client = client.clone();
        tokio::spawn(async move { reaches(&client, ConnectionState::Lost).await })
    };
    let mut leadership = latch.leadership();
    proxy.partition();
    // The old session lives on through another connection.
    let keeper = env.attach(s1, client.session_password()).await;
    within(PATIENCE, leadership.wait_for(|l| !l)).await.unwrap();
    within(PATIENCE, lost).await.unwrap();
    proxy.heal();
    connected(&client).await;
    assert_ne!(client.session_id(), s1);

    within(PATIENCE, latch.await_leadership()).await.unwrap();
    let node = latch.node_path().unwrap();
    assert_ne!(node, old_node, "leadership through the old session's node");
    let stat = client.exists(&node).await.unwrap().unwrap();
    assert_eq!(stat.ephemeral_owner, client.session_id());
    // The stale node was replaced, not left first in line.
    assert!(client.exists(&old_node).await.unwrap().is_none());
    keeper.close().await.unwrap();
    latch.close().await.unwrap();
}

/// Pitfall 9: after session loss the latch re-joins and leads again within
/// a deadline.
#[tokio::test]
async fn pitfall9_latch_rejoins_after_expiry() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let client = builder.connect().await.unwrap();
    let other = env.client().await;
    let latch = LeaderLatch::new(&client, "/latch9", "a");
    latch.start();
    within(PATIENCE, latch.await_leadership()).await.unwrap();
    let rival = LeaderLatch::new(&other, "/latch9", "b");
    rival.start();
    env.wait_children(&other, "/latch9", |c| c.len() == 2).await;

    let mut leadership = latch.leadership();
    env.expire(&proxy, &client).await;
    within(PATIENCE, leadership.wait_for(|l| !l)).await.unwrap();
    within(Duration::from_secs(10), rival.await_leadership())
        .await
        .unwrap();
    rival.close().await.unwrap();
    within(Duration::from_secs(10), latch.await_leadership())
        .await
        .unwrap();
    let node = latch.node_path().unwrap();
    let stat = client.exists(&node).await.unwrap().unwrap();
    assert_eq!(stat.ephemeral_owner, client.session_id());
    latch.close().await.unwrap();
}

struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The leader's task runs alone; it is cancelled when leadership is lost
/// (session expiry), and the participant is re-queued and leads again within
/// a deadline (pitfall 9).
#[tokio::test]
async fn election_cancels_task_on_loss_and_requeues() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let a = builder.connect().await.unwrap();
    let b = env.client().await;
    let running = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let start = |client: &zk_client::Client, id: &str| {
        let running = running.clone();
        let max_seen = max_seen.clone();
        LeaderElection::new(client, "/election")
            .with_id(id)
            .auto_requeue(true)
            .run(move |leadership| {
                let running = running.clone();
                let max_seen = max_seen.clone();
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, Ordering::SeqCst);
                    let _running = Running(running);
                    assert!(leadership.fencing_token() > 0);
                    // Lead until cancelled.
                    std::future::pending::<()>().await;
                }
            })
    };
    let ea = start(&a, "a");
    let mut a_terms = ea.terms();
    within(PATIENCE, ea.leadership().wait_for(|l| *l))
        .await
        .unwrap();
    let eb = start(&b, "b");
    env.wait_children(&b, "/election", |c| c.len() == 2).await;
    assert!(!eb.is_leader());

    // A is cut off past its session timeout: its task is cancelled before
    // B's can start.
    proxy.partition();
    within(PATIENCE, eb.leadership().wait_for(|l| *l))
        .await
        .unwrap();
    assert!(!ea.is_leader());
    proxy.heal();
    // A re-queued behind B.
    env.wait_children(&b, "/election", |c| c.len() == 2).await;
    eb.stop().await;
    within(Duration::from_secs(10), a_terms.wait_for(|t| *t == 2))
        .await
        .unwrap();
    within(PATIENCE, ea.leadership().wait_for(|l| *l))
        .await
        .unwrap();
    assert_eq!(
        max_seen.load(Ordering::SeqCst),
        1,
        "two leaders ran at once"
    );
    ea.stop().await;
    env.wait_children(&b, "/election", |c| c.is_empty()).await;
    assert_eq!(running.load(Ordering::SeqCst), 0, "tasks cancelled");
}

/// Without requeue, a finished task gives up leadership once.
#[tokio::test]
async fn election_task_finishing_gives_up_leadership() {
    let env = env().await;
    let a = env.client().await;
    let b = env.client().await;
    let ea = LeaderElection::new(&a, "/election1").run(|_| async {});
    let eb = LeaderElection::new(&b, "/election1").run(|_| async {});
    within(PATIENCE, async {
        while !(ea.is_finished() && eb.is_finished()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(*ea.terms().borrow() + *eb.terms().borrow(), 2);
}

/// Issue 16, trap 3: dropping every handle of a latch (without `close`)
/// gives up leadership and removes its node in the background, and its
/// task does not keep the session open once the application drops its
/// client.
#[tokio::test]
async fn dropping_a_latch_leaves_the_election_and_the_session_closes() {
    let env = env().await;
    let observer = env.client().await;
    let c = env.client().await;
    let latch = LeaderLatch::new(&c, "/latch-drop", "a");
    latch.start();
    within(PATIENCE, latch.await_leadership()).await.unwrap();
    let rival_client = env.client().await;
    let rival = LeaderLatch::new(&rival_client, "/latch-drop", "b");
    rival.start();
    env.wait_children(&observer, "/latch-drop", |c| c.len() == 2)
        .await;

    // Dropping the handles (a clone included) hands leadership over.
    let clone = latch.clone();
    drop(latch);
    assert!(clone.is_leader(), "a clone still holds the latch");
    drop(clone);
    within(PATIENCE, rival.await_leadership()).await.unwrap();
    env.wait_children(&observer, "/latch-drop", |c| c.len() == 1)
        .await;

    // The rival's task does not keep its session open: dropping the latch
    // and the client closes the session.
    let weak = rival_client.downgrade();
    drop(rival);
    drop(rival_client);
    let state = within(PATIENCE, weak.wait_for_state(|s| s.is_terminal())).await;
    assert_eq!(state, ConnectionState::Closed);
    env.wait_children(&observer, "/latch-drop", |c| c.is_empty())
        .await;
    drop(c);
}

/// Trap 4: `joined()` returns once the participant's node exists, so
/// `participants()` right after lists every participant that joined.
#[tokio::test]
async fn joined_participants_are_listed() {
    let env = env().await;
    let c = env.client().await;
    let mut latches = Vec::new();
    for i in 0..3 {
        let latch = LeaderLatch::new(&c, "/latch-join", format!("p{i}"));
        latch.start();
        latches.push(latch);
    }
    for latch in &latches {
        let node = within(PATIENCE, latch.joined()).await.unwrap();
        assert_eq!(latch.node_path(), Some(node));
    }
    let ids: Vec<String> = latches[0]
        .participants()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    for latch in &latches {
        latch.close().await.unwrap();
    }
    assert!(matches!(
        latches[0].joined().await,
        Err(zk_recipes::Error::Closed)
    ));
}

/// Trap 14: a leader has a fencing token (its node's czxid), the next
/// leader a larger one; a non-leader has none.
#[tokio::test]
async fn latch_fencing_tokens_grow_with_each_leader() {
    let env = env().await;
    let c = env.client().await;
    let a = LeaderLatch::new(&c, "/latch-token", "a");
    let b = LeaderLatch::new(&c, "/latch-token", "b");
    a.start();
    within(PATIENCE, a.await_leadership()).await.unwrap();
    b.start();
    b.joined().await.unwrap();
    let first = a.fencing_token().expect("the leader has a token");
    assert_eq!(b.fencing_token(), None);
    a.close().await.unwrap();
    assert_eq!(a.fencing_token(), None);
    within(PATIENCE, b.await_leadership()).await.unwrap();
    let second = b.fencing_token().expect("the new leader has a token");
    assert!(second > first, "{second} > {first}");
    // A re-join after the old leader left gets a larger token still.
    let a2 = LeaderLatch::new(&c, "/latch-token", "a");
    a2.start();
    a2.joined().await.unwrap();
    b.close().await.unwrap();
    within(PATIENCE, a2.await_leadership()).await.unwrap();
    assert!(a2.fencing_token().unwrap() > second);
    a2.close().await.unwrap();
}

/// The latch's side of issue 16's bug 3: the leader looks again (its node's
/// data changed) and the connection stalls while that check's request is
/// in flight. The latch follows the connection state meanwhile, so it gives
/// leadership up by its grace timer — while the client is still suspended,
/// before it declares the session lost — and before the rival leads. (The
/// reporter found the latch right where the lock was wrong, and this test
/// passes with the latch's earlier loop too: it pins the behaviour for the
/// loop that now races every request against the connection state.)
#[tokio::test]
async fn latch_gives_up_in_time_when_a_check_stalls() {
    let env = env().await;
    let (proxy, builder) = env.proxied().await;
    let holder = builder.connect().await.unwrap();
    let rival_client = env.client().await;
    let latch = LeaderLatch::new(&holder, "/latch-stall", "a");
    latch.start();
    within(PATIENCE, latch.await_leadership()).await.unwrap();
    let rival = LeaderLatch::new(&rival_client, "/latch-stall", "b");
    rival.start();
    env.wait_children(&rival_client, "/latch-stall", |c| c.len() == 2)
        .await;
    let rival_leads = {
        let rival = rival.clone();
        tokio::spawn(async move {
            rival.await_leadership().await.unwrap();
            tokio::time::Instant::now()
        })
    };

    let held = proxy.inject(
        zk_testserver::proxy::Match::op(zk_client::proto::OpCode::GetChildren)
            .path_contains("/latch-stall"),
        zk_testserver::proxy::Fault::HoldReply,
    );
    rival_client
        .set_data(&latch.node_path().unwrap(), "touched", None)
        .await
        .unwrap();
    held.triggered().await;
    proxy.partition();
    let mut leadership = latch.leadership();
    within(PATIENCE, leadership.wait_for(|l| !l)).await.unwrap();
    let state = holder.state();
    let dropped_at = tokio::time::Instant::now();
    assert_ne!(
        state,
        ConnectionState::Lost,
        "leadership kept until the client gave the session up"
    );
    let rival_at = within(PATIENCE, rival_leads).await.unwrap();
    assert!(dropped_at < rival_at, "the rival led first");
    rival.close().await.unwrap();
}
