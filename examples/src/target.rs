//! Where an example runs: an existing ensemble (`--connect HOSTS`) or, by
//! default, an in-process zk-testserver ensemble started for the run.

use std::time::Duration;
use zk_client::{Client, CreateMode};
use zk_testserver::Ensemble;

/// The flag every example takes: `--connect HOSTS` runs it on an existing
/// ensemble instead of an in-process one. Flatten it into a program's own
/// arguments (`#[command(flatten)]`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// Connect string of an existing ensemble (host:port,...); without it
    /// the example starts an in-process zk-testserver ensemble.
    #[arg(long, value_name = "HOSTS")]
    pub connect: Option<String>,
}

/// The command line of an example that takes nothing but `--connect`.
#[derive(Debug, clap::Parser)]
pub struct ExampleArgs {
    /// Where the example runs.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The ensemble an example talks to.
pub struct Target {
    /// Connect string of the ensemble (no chroot).
    pub hosts: String,
    /// The in-process ensemble, if the example started one.
    pub ensemble: Option<Ensemble>,
}

impl Target {
    /// Parses the command line as [`ExampleArgs`] (exiting with a usage
    /// message on `--help` or a bad flag) and starts the [`Target`] it names.
    pub async fn from_args(members: usize) -> Result<Target, Box<dyn std::error::Error>> {
        use clap::Parser as _;
        Target::new(&ExampleArgs::parse().target, members).await
    }

    /// `--connect HOSTS` if given, else a fresh in-process ensemble of
    /// `members` members (100 ms tick, so sessions of up to 2 s).
    pub async fn new(
        args: &TargetArgs,
        members: usize,
    ) -> Result<Target, Box<dyn std::error::Error>> {
        match args.connect.clone() {
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
