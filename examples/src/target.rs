//! Where an example runs: an existing ensemble (`--connect HOSTS`) or, by
//! default, an in-process zk-testserver ensemble started for the run.

use std::time::Duration;
use zk_client::{Client, CreateMode};
use zk_testserver::Ensemble;

/// The value after `name` on the command line (`--connect HOSTS`).
pub fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
    }
    None
}

/// A numeric option with a default.
pub fn arg_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The ensemble an example talks to.
pub struct Target {
    /// Connect string of the ensemble (no chroot).
    pub hosts: String,
    /// The in-process ensemble, if the example started one.
    pub ensemble: Option<Ensemble>,
}

impl Target {
    /// `--connect HOSTS` if given, else a fresh in-process ensemble of
    /// `members` members (100 ms tick, so sessions of up to 2 s).
    pub async fn from_args(members: usize) -> Result<Target, Box<dyn std::error::Error>> {
        match arg("--connect") {
            Some(hosts) => Ok(Target {
                hosts,
                ensemble: None,
            }),
            None => Target::embedded(members).await,
        }
    }

    /// A fresh in-process ensemble of `members` members.
    pub async fn embedded(members: usize) -> Result<Target, Box<dyn std::error::Error>> {
        let ensemble = Ensemble::builder()
            .members(members)
            .tick(Duration::from_millis(100))
            .start()
            .await?;
        Ok(Target {
            hosts: ensemble.connect_string(),
            ensemble: Some(ensemble),
        })
    }

    /// A line saying where the example runs.
    pub fn describe(&self) -> String {
        match &self.ensemble {
            Some(e) => format!(
                "in-process {}-member zk-testserver ensemble at {}",
                e.members().len(),
                self.hosts
            ),
            None => format!("ensemble at {}", self.hosts),
        }
    }

    /// A client chrooted at `root` (created if missing), renewing its
    /// session after expiry as recipes expect.
    pub async fn client(&self, root: &str) -> Result<Client, Box<dyn std::error::Error>> {
        let admin = Client::connect(&self.hosts).await?;
        admin.create_all(root, "", CreateMode::Persistent).await?;
        admin.close().await?;
        Ok(Client::builder(format!("{}{root}", self.hosts))
            .session_timeout(Duration::from_secs(4))
            .renew_session_on_expiry(true)
            .connect()
            .await?)
    }
}
