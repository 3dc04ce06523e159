//! Service discovery with Curator's layout and JSON format
//! (`curator-x-discovery`): instances at `/<base>/<name>/<id>` holding
//! `ServiceInstance` JSON.

use crate::error::{Error, Result};
use crate::node_cache::rewatch;
use crate::nodes::{ensure_dir, join};
use crate::policy::wait_connected;
use crate::service_payload::ServicePayload;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use zk_client::{AddWatchMode, Client, ConnectionState, CreateMode, WatchEvent};

/// How an instance's node lives (Curator's `ServiceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceType {
    /// An ephemeral node, re-created after a session loss.
    #[default]
    Dynamic,
    /// A persistent node, as Curator writes it (Curator's name for
    /// instances registered by hand, e.g. by an operator); outlives the
    /// session and is never re-created by this client.
    Static,
    /// A persistent node: outlives the session; never re-created by this
    /// client.
    Permanent,
    /// An ephemeral sequential node (`<id><seq>`), re-created after a
    /// session loss.
    DynamicSequential,
}

impl ServiceType {
    /// Whether the instance's node is ephemeral (so re-created in a new
    /// session): `Dynamic` and `DynamicSequential`.
    pub fn is_ephemeral(self) -> bool {
        matches!(self, ServiceType::Dynamic | ServiceType::DynamicSequential)
    }
}

fn enabled_default() -> bool {
    true
}

/// A service instance, serialized as Curator's `ServiceInstance` JSON
/// (`name`, `id`, `address`, `port`, `sslPort`, `payload`,
/// `registrationTimeUTC`, `serviceType`, `uriSpec`, `enabled`). Unknown
/// fields are ignored, missing optional ones default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInstance {
    /// The service name.
    pub name: String,
    /// The instance id, unique within the service.
    pub id: String,
    /// Host name or address.
    #[serde(default)]
    pub address: Option<String>,
    /// Port.
    #[serde(default)]
    pub port: Option<u16>,
    /// TLS port.
    #[serde(default)]
    pub ssl_port: Option<u16>,
    /// The payload, with the Java class Curator services read it as (see
    /// [`ServicePayload`]).
    #[serde(default)]
    pub payload: Option<ServicePayload>,
    /// Registration time, milliseconds since the epoch.
    #[serde(rename = "registrationTimeUTC", default)]
    pub registration_time_utc: i64,
    /// How the node lives.
    #[serde(default)]
    pub service_type: ServiceType,
    /// Curator's `UriSpec` (kept as JSON).
    #[serde(default)]
    pub uri_spec: Option<serde_json::Value>,
    /// Whether the instance takes traffic.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
}

impl ServiceInstance {
    /// A dynamic instance of `name` with a random id, registered now.
    pub fn new(name: impl Into<String>) -> ServiceInstance {
        ServiceInstance {
            name: name.into(),
            id: uuid::Uuid::new_v4().to_string(),
            address: None,
            port: None,
            ssl_port: None,
            payload: None,
            registration_time_utc: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
            service_type: ServiceType::Dynamic,
            uri_spec: None,
            enabled: true,
        }
    }

    /// Sets the id.
    pub fn with_id(mut self, id: impl Into<String>) -> ServiceInstance {
        self.id = id.into();
        self
    }

    /// Sets address and port.
    pub fn with_address(mut self, address: impl Into<String>, port: u16) -> ServiceInstance {
        self.address = Some(address.into());
        self.port = Some(port);
        self
    }

    /// Sets the payload: a [`ServicePayload`], or a `serde_json::Value`
    /// written without a type tag (fine for Curator services whose payload
    /// type is `String` or `Map`; a POJO payload type needs
    /// [`ServicePayload::typed`] or [`ServiceInstance::with_typed_payload`]).
    pub fn with_payload(mut self, payload: impl Into<ServicePayload>) -> ServiceInstance {
        self.payload = Some(payload.into());
        self
    }

    /// Sets a payload of the Java class `java_class`, as a Curator service
    /// with that payload type (`ServiceDiscovery<JavaClass>`) reads it.
    pub fn with_typed_payload(
        mut self,
        java_class: impl Into<String>,
        payload: &impl Serialize,
    ) -> Result<ServiceInstance> {
        let payload =
            ServicePayload::typed(java_class, payload).map_err(|e| Error::Encode(e.to_string()))?;
        self.payload = Some(payload);
        Ok(self)
    }

    /// Sets the service type.
    pub fn with_type(mut self, service_type: ServiceType) -> ServiceInstance {
        self.service_type = service_type;
        self
    }

    /// The JSON bytes stored in the node.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Encode(e.to_string()))
    }

    /// Parses an instance node's data.
    pub fn from_json(path: &str, data: &[u8]) -> Result<ServiceInstance> {
        serde_json::from_slice(data).map_err(|e| Error::bad_data(path, e))
    }
}

/// Registers this process's service instances and finds others'.
///
/// Registered dynamic instances are ephemeral nodes; after a session loss
/// (when the client renews sessions) every instance still registered is
/// written again **with its latest data** (updates made while disconnected
/// included). Unregistered instances stay gone; static and permanent
/// instances are persistent nodes and are never re-created by the
/// re-registration. The base and service directories are containers, as
/// Curator creates them: the server removes a service's directory once its
/// last instance is gone.
///
/// **Connection policy**: Suspended changes nothing (the nodes live as long
/// as the session); after Lost, re-registration happens in the new session.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let zk = zk_testserver::Ensemble::builder().start().await?;
/// # let client = zk_client::Client::builder(zk.connect_string()).renew_session_on_expiry(true).connect().await?;
/// # tokio::time::timeout(std::time::Duration::from_secs(20), demo(client)).await??;
/// # Ok(()) }
/// # async fn demo(client: zk_client::Client) -> Result<(), zk_recipes::Error> {
/// use zk_recipes::{ServiceDiscovery, ServiceInstance};
/// let discovery = ServiceDiscovery::new(&client, "/services");
/// let me = ServiceInstance::new("api").with_address("10.0.0.5", 8080);
/// discovery.register(&me).await?;
/// for instance in discovery.instances("api").await? {
///     println!("{}:{:?}", instance.id, instance.port);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServiceDiscovery {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    base: String,
    /// id → (latest instance, node path once written).
    registered: Mutex<HashMap<String, (ServiceInstance, Option<String>)>>,
    passes: watch::Sender<u64>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut t) = self.task.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
    }
}

impl std::fmt::Debug for ServiceDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDiscovery")
            .field("base", &self.inner.base)
            .finish()
    }
}

impl ServiceDiscovery {
    /// Discovery under `base` (e.g. `/services`).
    pub fn new(client: &Client, base: impl Into<String>) -> ServiceDiscovery {
        let inner = Arc::new(Inner {
            client: client.clone(),
            base: base.into(),
            registered: Mutex::new(HashMap::new()),
            passes: watch::Sender::new(0),
            task: Mutex::new(None),
        });
        let task = tokio::spawn(reregister_loop(Arc::downgrade(&inner), client.clone()));
        if let Ok(mut t) = inner.task.lock() {
            *t = Some(task);
        }
        ServiceDiscovery { inner }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The base path.
    pub fn base_path(&self) -> &str {
        &self.inner.base
    }

    fn service_path(&self, name: &str) -> String {
        join(&self.inner.base, name)
    }

    /// Registers (or re-registers) `instance`.
    ///
    /// # Cancel safety
    ///
    /// A dropped call may or may not have written the instance's node. The
    /// instance is remembered at the first poll, so a re-registration after a
    /// session loss can bring it back: call `register` again (harmless) or
    /// [`ServiceDiscovery::unregister`].
    pub async fn register(&self, instance: &ServiceInstance) -> Result<()> {
        if instance.service_type.is_ephemeral() {
            self.remember(instance, None);
        }
        let path = self.write(instance).await?;
        if instance.service_type.is_ephemeral() {
            self.remember(instance, Some(path));
        }
        Ok(())
    }

    /// Replaces a registered instance's data. The new data is remembered
    /// first, so a re-registration after a session loss uses it even if
    /// this write fails.
    ///
    /// # Cancel safety
    ///
    /// As [`ServiceDiscovery::register`]: the new data is remembered at the
    /// first poll; a dropped call may or may not have written it. Calling it
    /// again is harmless.
    pub async fn update(&self, instance: &ServiceInstance) -> Result<()> {
        let known = self.node_of(&instance.id);
        if instance.service_type.is_ephemeral() {
            self.remember(instance, known.clone());
        }
        let path = known.unwrap_or_else(|| join(&self.service_path(&instance.name), &instance.id));
        match self
            .inner
            .client
            .set_data(&path, instance.to_json()?, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_no_node() => self.register(instance).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Unregisters an instance: forgets it (it will not be re-registered)
    /// and deletes its node.
    ///
    /// # Cancel safety
    ///
    /// The instance is forgotten at the first poll (never re-registered); a
    /// dropped call may or may not have deleted its node. Calling it again is
    /// harmless.
    pub async fn unregister(&self, instance: &ServiceInstance) -> Result<()> {
        let known = self
            .inner
            .registered
            .lock()
            .ok()
            .and_then(|mut r| r.remove(&instance.id))
            .and_then(|(_, p)| p);
        let path = known.unwrap_or_else(|| join(&self.service_path(&instance.name), &instance.id));
        match self.inner.client.delete(&path, None).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_no_node() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The service names.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn names(&self) -> Result<Vec<String>> {
        match self.inner.client.get_children(&self.inner.base).await {
            Ok(mut c) => {
                c.sort();
                Ok(c)
            }
            Err(e) if e.is_no_node() => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every instance of `name` (instances whose data cannot be parsed are
    /// skipped with a warning), sorted by id.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn instances(&self, name: &str) -> Result<Vec<ServiceInstance>> {
        load_instances(&self.inner.client, &self.service_path(name)).await
    }

    /// One instance.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only reads.
    pub async fn instance(&self, name: &str, id: &str) -> Result<Option<ServiceInstance>> {
        let path = join(&self.service_path(name), id);
        match self.inner.client.get_data(&path).await {
            Ok((data, _)) => Ok(Some(ServiceInstance::from_json(&path, &data)?)),
            Err(e) if e.is_no_node() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Counts completed re-registration passes (one after each new
    /// session), as a watch channel.
    pub fn reregistrations(&self) -> watch::Receiver<u64> {
        self.inner.passes.subscribe()
    }

    /// A cache of `name`'s instances (see [`ServiceCache`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped call leaves no watch or task behind.
    pub async fn cache(&self, name: &str) -> Result<ServiceCache> {
        ServiceCache::start(&self.inner.client, self.service_path(name)).await
    }

    /// A provider picking instances of `name` with `strategy`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped call leaves no watch or task behind.
    pub async fn provider(
        &self,
        name: &str,
        strategy: ProviderStrategy,
    ) -> Result<ServiceProvider> {
        Ok(ServiceProvider::new(self.cache(name).await?, strategy))
    }

    fn remember(&self, instance: &ServiceInstance, path: Option<String>) {
        if let Ok(mut r) = self.inner.registered.lock() {
            r.insert(instance.id.clone(), (instance.clone(), path));
        }
    }

    fn node_of(&self, id: &str) -> Option<String> {
        self.inner
            .registered
            .lock()
            .ok()
            .and_then(|r| r.get(id).and_then(|(_, p)| p.clone()))
    }

    async fn write(&self, instance: &ServiceInstance) -> Result<String> {
        write_instance(&self.inner.client, &self.inner.base, instance).await
    }
}

async fn write_instance(client: &Client, base: &str, instance: &ServiceInstance) -> Result<String> {
    let dir = join(base, &instance.name);
    let path = join(&dir, &instance.id);
    let data = instance.to_json()?;
    let mode = match instance.service_type {
        ServiceType::Permanent | ServiceType::Static => CreateMode::Persistent,
        ServiceType::DynamicSequential => CreateMode::EphemeralSequential,
        ServiceType::Dynamic => CreateMode::Ephemeral,
    };
    loop {
        match client.create(&path, data.clone(), mode).await {
            Ok((created, _)) => return Ok(created),
            // Containers, like Curator's: reaped once empty.
            Err(e) if e.is_no_node() => ensure_dir(client, &dir, true).await?,
            Err(e) if e.is_node_exists() => {
                match client.exists(&path).await? {
                    Some(stat)
                        if stat.ephemeral_owner == client.session_id()
                            || mode == CreateMode::Persistent =>
                    {
                        client.set_data(&path, data.clone(), None).await?;
                        return Ok(path);
                    }
                    // A node of an earlier session, not yet expired: ours
                    // to replace.
                    Some(_) => match client.delete(&path, None).await {
                        Ok(()) => {}
                        Err(e) if e.is_no_node() => {}
                        Err(e) => return Err(e.into()),
                    },
                    None => {}
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn reregister_loop(inner: std::sync::Weak<Inner>, client: Client) {
    let mut states = client.state_stream();
    let mut session = client.session_id();
    while let Some(state) = states.next().await {
        if !matches!(
            state,
            ConnectionState::Connected | ConnectionState::Reconnected
        ) || client.session_id() == session
        {
            if state.is_terminal() && !client.renews_session_on_expiry() {
                return;
            }
            continue;
        }
        session = client.session_id();
        let Some(inner) = inner.upgrade() else { return };
        let todo: Vec<ServiceInstance> = inner
            .registered
            .lock()
            .map(|r| r.values().map(|(i, _)| i.clone()).collect())
            .unwrap_or_default();
        tracing::info!(
            count = todo.len(),
            "new session; re-registering service instances"
        );
        for instance in todo {
            loop {
                // Skip instances unregistered meanwhile; use the latest data.
                let latest = inner
                    .registered
                    .lock()
                    .ok()
                    .and_then(|r| r.get(&instance.id).map(|(i, _)| i.clone()));
                let Some(latest) = latest else { break };
                match write_instance(&client, &inner.base, &latest).await {
                    Ok(path) => {
                        if let Ok(mut r) = inner.registered.lock() {
                            if let Some(entry) = r.get_mut(&latest.id) {
                                entry.1 = Some(path);
                            }
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(id = %latest.id, error = %e, "re-registration failed; retrying");
                        if wait_connected(&client).await.is_err() {
                            return;
                        }
                        if client.session_id() != session {
                            break;
                        }
                    }
                }
            }
        }
        inner.passes.send_modify(|n| *n += 1);
    }
}

async fn load_instances(client: &Client, dir: &str) -> Result<Vec<ServiceInstance>> {
    let children = match client.get_children(dir).await {
        Ok(c) => c,
        Err(e) if e.is_no_node() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::with_capacity(children.len());
    for child in children {
        let path = join(dir, &child);
        match client.get_data(&path).await {
            Ok((data, _)) => match ServiceInstance::from_json(&path, &data) {
                Ok(i) => out.push(i),
                Err(e) => tracing::warn!(%path, error = %e, "skipping unreadable instance"),
            },
            Err(e) if e.is_no_node() => {}
            Err(e) => return Err(e.into()),
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// A live view of one service's instances, kept current by a persistent
/// recursive watch (re-read in full after a reconnect, when events may have
/// been missed, and after a session loss).
///
/// **Connection policy**: the last known set is kept while suspended.
#[derive(Debug)]
pub struct ServiceCache {
    rx: watch::Receiver<Vec<ServiceInstance>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ServiceCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ServiceCache {
    async fn start(client: &Client, dir: String) -> Result<ServiceCache> {
        let watch = client
            .add_watch(&dir, AddWatchMode::PersistentRecursive)
            .await?;
        let initial = load_instances(client, &dir).await?;
        let (tx, rx) = watch::channel(initial);
        let task = tokio::spawn(cache_loop(client.clone(), dir, watch, tx));
        Ok(ServiceCache { rx, task })
    }

    /// The current instances, sorted by id.
    pub fn instances(&self) -> Vec<ServiceInstance> {
        self.rx.borrow().clone()
    }

    /// The instance set as a watch channel (changes only when the set or an
    /// instance's data changes).
    pub fn subscribe(&self) -> watch::Receiver<Vec<ServiceInstance>> {
        self.rx.clone()
    }

    /// A stream of instance sets: the current one, then every change.
    pub fn changes(&self) -> tokio_stream::wrappers::WatchStream<Vec<ServiceInstance>> {
        tokio_stream::wrappers::WatchStream::new(self.rx.clone())
    }
}

async fn cache_loop(
    client: Client,
    dir: String,
    mut watch: zk_client::PersistentWatch,
    tx: watch::Sender<Vec<ServiceInstance>>,
) {
    loop {
        let event = watch.next().await;
        match event {
            Some(WatchEvent::Node(_)) | Some(WatchEvent::Resync) => {}
            // The session ended and the watch with it: watch again once a
            // session is up (gives up only when the client is done).
            Some(WatchEvent::Expired) => {
                match rewatch(&client, &dir, AddWatchMode::PersistentRecursive).await {
                    Some(w) => watch = w,
                    None => return,
                }
            }
            _ => return,
        }
        match load_instances(&client, &dir).await {
            Ok(now) => {
                tx.send_if_modified(|current| {
                    let changed = *current != now;
                    *current = now;
                    changed
                });
            }
            Err(e) => tracing::debug!(%dir, error = %e, "service cache reload failed"),
        }
    }
}

/// How a [`ServiceProvider`] picks an instance (Curator's provider
/// strategies).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProviderStrategy {
    /// Each instance in turn.
    #[default]
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// The same instance as last time while it is available (enabled, not
    /// marked down, still registered); otherwise a new one picked with the
    /// inner strategy (Curator's `StickyStrategy`).
    Sticky(Box<ProviderStrategy>),
}

impl ProviderStrategy {
    /// Sticky over `inner`.
    pub fn sticky(inner: ProviderStrategy) -> ProviderStrategy {
        ProviderStrategy::Sticky(Box::new(inner))
    }
}

/// When a [`ServiceProvider`] stops offering an instance its callers
/// reported errors for (Curator's `DownInstancePolicy`): after
/// `error_threshold` errors, for `timeout` from the first of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownInstancePolicy {
    /// How long an instance stays down, counted from its first error.
    pub timeout: Duration,
    /// Errors that make an instance down.
    pub error_threshold: u32,
}

impl Default for DownInstancePolicy {
    /// Curator's defaults: 2 errors, 30 seconds.
    fn default() -> DownInstancePolicy {
        DownInstancePolicy {
            timeout: Duration::from_secs(30),
            error_threshold: 2,
        }
    }
}

/// Errors noted per instance id: (first error, count).
#[derive(Debug, Default)]
struct DownInstances {
    errors: HashMap<String, (Instant, u32)>,
}

impl DownInstances {
    fn note(&mut self, id: &str, policy: &DownInstancePolicy) {
        self.purge(policy);
        self.errors
            .entry(id.to_string())
            .or_insert_with(|| (Instant::now(), 0))
            .1 += 1;
    }

    fn is_down(&mut self, id: &str, policy: &DownInstancePolicy) -> bool {
        self.purge(policy);
        self.errors
            .get(id)
            .is_some_and(|(_, n)| *n >= policy.error_threshold)
    }

    fn purge(&mut self, policy: &DownInstancePolicy) {
        self.errors
            .retain(|_, (first, _)| first.elapsed() < policy.timeout);
    }
}

/// Picks one instance of a service from a [`ServiceCache`]: enabled
/// instances not marked down by the [`DownInstancePolicy`], chosen with the
/// [`ProviderStrategy`].
#[derive(Debug)]
pub struct ServiceProvider {
    cache: ServiceCache,
    strategy: ProviderStrategy,
    next: AtomicUsize,
    policy: DownInstancePolicy,
    down: Mutex<DownInstances>,
    /// The sticky choice (an instance id) and how many choices were made.
    sticky: Mutex<(Option<String>, u64)>,
}

impl ServiceProvider {
    fn new(cache: ServiceCache, strategy: ProviderStrategy) -> ServiceProvider {
        ServiceProvider {
            cache,
            strategy,
            next: AtomicUsize::new(0),
            policy: DownInstancePolicy::default(),
            down: Mutex::new(DownInstances::default()),
            sticky: Mutex::new((None, 0)),
        }
    }

    /// Sets the down-instance policy (default: Curator's).
    pub fn with_down_instance_policy(mut self, policy: DownInstancePolicy) -> ServiceProvider {
        self.policy = policy;
        self
    }

    /// An instance, or `None` if none is available.
    pub fn instance(&self) -> Option<ServiceInstance> {
        let all = self.instances();
        if all.is_empty() {
            return None;
        }
        self.pick(&self.strategy, all)
    }

    fn pick(
        &self,
        strategy: &ProviderStrategy,
        all: Vec<ServiceInstance>,
    ) -> Option<ServiceInstance> {
        let index = match strategy {
            ProviderStrategy::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % all.len(),
            ProviderStrategy::Random => rand::random_range(..all.len()),
            ProviderStrategy::Sticky(inner) => {
                let Ok(mut sticky) = self.sticky.lock() else {
                    return self.pick(inner, all);
                };
                if let Some(i) = sticky
                    .0
                    .as_ref()
                    .and_then(|id| all.iter().position(|i| &i.id == id))
                {
                    return all.into_iter().nth(i);
                }
                let chosen = self.pick(inner, all)?;
                *sticky = (Some(chosen.id.clone()), sticky.1 + 1);
                return Some(chosen);
            }
        };
        all.into_iter().nth(index)
    }

    /// How many different instances a sticky provider has chosen so far
    /// (Curator's `getInstanceNumber`, counting from 1).
    pub fn sticky_choices(&self) -> u64 {
        self.sticky.lock().map(|s| s.1).unwrap_or(0)
    }

    /// Reports that a call to `instance` failed: after the policy's
    /// threshold of errors the instance is not offered until its timeout
    /// passes (Curator's `noteError`).
    pub fn note_error(&self, instance: &ServiceInstance) {
        if let Ok(mut down) = self.down.lock() {
            down.note(&instance.id, &self.policy);
        }
    }

    /// Every available instance (enabled and not down).
    pub fn instances(&self) -> Vec<ServiceInstance> {
        let mut down = self.down.lock().ok();
        self.cache
            .instances()
            .into_iter()
            .filter(|i| i.enabled)
            .filter(|i| {
                down.as_mut()
                    .is_none_or(|d| !d.is_down(&i.id, &self.policy))
            })
            .collect()
    }

    /// The cache behind the provider.
    pub fn cache(&self) -> &ServiceCache {
        &self.cache
    }
}
