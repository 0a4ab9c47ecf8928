//! The service: consume, validate, republish, wait for the broker's confirmation, then
//! acknowledge.
//!
//! - **At least once.** The incoming message is acknowledged only after the broker
//!   confirmed the republished one (publisher confirms); acknowledgements are batched
//!   ([`crate::acks`]). A process killed in between
//!   leaves the message unacknowledged; the broker redelivers it, so it may come out
//!   twice (same `x-waxseal-id`), never zero times. A negative confirmation requeues the
//!   incoming message.
//! - **Reconnects.** A lost connection (broker restart, network) ends the session; the
//!   service connects again with exponential backoff (100 ms doubling to 5 s) and never
//!   exits for it. Messages that were in flight are redelivered by the broker. The AMQP
//!   client does not always notice a connection that died without a word (a socket closed
//!   under it), so the session also notices by itself: a connection no longer in the
//!   connected state, an acknowledgement not sent within 5 s, or a probe (a passive
//!   declaration of the queue after 3 s without a delivery or a confirmation) not
//!   answered within 5 s ends it.
//! - **SIGTERM (or SIGINT) drains**: the consumer is cancelled, what was already
//!   delivered is finished and confirmed, the connection is closed, and [`run`] returns
//!   `Ok` (exit 0).
//! - **Several brokers.** With several `--amqp` URLs (the nodes of a cluster) the first
//!   session connects to the first; each failed session moves on to the next one, in
//!   turn, so a node that went away is left for another while the backoff runs.
//! - **Admissions are recorded in batches.** Every check but the replay store
//!   ([`Bus::examine`]) runs on the worker; the deliveries examined while one waits to be
//!   recorded are recorded together ([`Bus::admit_examined_all`], see
//!   [`crate::admitter`]): with a Redis store in one round trip on a thread of its own,
//!   so the worker verifies the next deliveries meanwhile; with a journal, in place, under
//!   one lock and one append.
//! - **Settled after the acknowledgement.** Once an acknowledgement covering a verified
//!   delivery went out, its replay key is settled in the store ([`Bus::settle_all`],
//!   within 20 ms, 64 keys at a time; a remote store on a blocking thread): a broker
//!   redelivery of it would now be a replay. A settle that fails is logged
//!   (`settle-failed`) and counted, never fatal: the key stays admitted, which refuses
//!   every new copy all the same.
//! - **SIGHUP reloads** the bus configuration (see [`crate::reload`]); so does a change of
//!   its files, checked every `--watch-ms`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use amqprs::callbacks::{DefaultChannelCallback, DefaultConnectionCallback};
use amqprs::channel::{
    BasicCancelArguments, BasicConsumeArguments, BasicQosArguments, Channel, ConsumerMessage,
};
use amqprs::connection::Connection;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use tokio::task::JoinSet;
use waxseal_envelope::Signer;
use waxseal_message::replay::StoreSpec;
use waxseal_message::{Bus, ReplayStore};

use crate::acks::{Acks, Key};
use crate::amqp::{self, Delivery};
use crate::backoff::Backoff;
use crate::broker::BrokerUrl;
use crate::check::{self, Countersigner, Outcome};
use crate::config::GatewayConfig;
use crate::log;
use crate::metrics::Metrics;
use crate::publish::{self, Confirmation, Outgoing, PublishError, Publisher};
use crate::reload::{BusHandle, Watcher};

/// Why the gateway could not run (exit status 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The bus configuration, the replay journal, or the options.
    #[error("{0}")]
    Config(String),
    /// The metrics address.
    #[error("--metrics {0}: {1}")]
    Metrics(std::net::SocketAddr, std::io::Error),
    /// The runtime or the signal handlers.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What the tasks share.
pub struct Shared {
    /// The options.
    pub config: GatewayConfig,
    /// The current bus.
    pub bus: BusHandle,
    /// The metrics.
    pub metrics: Metrics,
    /// The countersigner, with `--countersign`.
    pub countersigner: Option<Countersigner>,
    /// The delay before a message not decided (or not taken by the broker) is requeued.
    pub requeue: Backoff,
    /// The replay store in use.
    pub replay_store: StoreSpec,
    /// Records admissions in batches (on a thread of its own for a remote store).
    pub admitter: crate::admitter::Admitter,
}

/// The reason code of a message the broker would not take back as the gateway first
/// republished it (see [`crate::publish`]): it goes to the rejected exchange with its
/// content type and message id only.
pub const REPUBLISH_REFUSED: &str = "republish-refused";

/// The reason code of a verified message that no queue was bound for (the broker returned
/// it): it goes to the rejected exchange instead of being lost.
pub const UNROUTABLE: &str = "unroutable";

/// The requeue reason of a delivery whose copy the broker did not take (a negative
/// confirmation: a queue full with `reject-publish`, for instance).
pub const BROKER_NACK: &str = "broker-nack";

impl crate::http::Health for Shared {
    fn metrics_text(&self) -> String {
        self.metrics.encode(&self.bus.current())
    }
    fn healthy(&self) -> bool {
        self.metrics.connected.get() == 1
    }
}

/// Runs the gateway on a runtime of `config.threads` worker threads until SIGTERM.
pub fn run_blocking(
    config: GatewayConfig,
    countersigner: Option<Signer>,
) -> Result<(), GatewayError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .enable_all()
        .build()?;
    // On a worker, not on this thread: the consume loop and the message tasks then share
    // the workers (with `--threads 1`, one thread) instead of waking each other across
    // threads for every delivery.
    runtime.block_on(async move {
        tokio::spawn(run(config, countersigner))
            .await
            .map_err(|e| GatewayError::Io(std::io::Error::other(e.to_string())))?
    })
}

/// Runs the gateway until SIGTERM or SIGINT (then drains and returns `Ok`).
pub async fn run(config: GatewayConfig, countersigner: Option<Signer>) -> Result<(), GatewayError> {
    let bus_config = waxseal_message::BusConfig::load(&config.bus)
        .map_err(|e| GatewayError::Config(e.to_string()))?;
    // Refused before the store is opened (or its state directory made).
    if !bus_config.validate_signatures {
        return Err(GatewayError::Config(
            crate::reload::BusError::ValidationOff(config.bus.display().to_string()).to_string(),
        ));
    }
    let (spec, store) = open_store(&config, &bus_config)?;
    // With file watching on, the watcher notices changed trust files and rebuilds the bus;
    // with it off (SIGHUP only), the bus still checks its files before every message.
    let refresh = Duration::from_millis(config.watch_ms);
    let bus = BusHandle::load(&config.bus, store, refresh)
        .map_err(|e| GatewayError::Config(e.to_string()))?;
    let countersigner = countersigner
        .map(Countersigner::new)
        .transpose()
        .map_err(|e| GatewayError::Config(e.to_string()))?;
    let metrics = Metrics::new(&bus.current());
    let shared = Arc::new(Shared {
        config,
        bus,
        metrics,
        countersigner,
        requeue: Backoff::default(),
        admitter: if spec.is_remote() {
            crate::admitter::Admitter::start()?
        } else {
            crate::admitter::Admitter::in_place()
        },
        replay_store: spec,
    });
    if let Some(addr) = shared.config.metrics {
        let bound = crate::http::serve(addr, shared.clone())
            .await
            .map_err(|e| GatewayError::Metrics(addr, e))?;
        log::info("metrics", &[("address", &bound.to_string())]);
    }

    let (stop_tx, stop) = watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = stop_tx.send(true);
    });
    let mut hup = signal(SignalKind::hangup())?;
    let reloader = shared.clone();
    tokio::spawn(async move {
        let mut watcher = Watcher::new(reloader.bus.watched_files());
        let interval = reloader.config.watch_ms;
        loop {
            let why = if interval == 0 {
                hup.recv().await;
                "sighup"
            } else {
                tokio::select! {
                    _ = hup.recv() => "sighup",
                    _ = tokio::time::sleep(Duration::from_millis(interval)) => {
                        if !watcher.changed() { continue; }
                        "file-changed"
                    }
                }
            };
            let r = reloader.bus.reload();
            reloader.metrics.reload(r.is_ok());
            match r {
                Ok(()) => {
                    watcher = Watcher::new(reloader.bus.watched_files());
                    log::info("reloaded", &[("trigger", why)]);
                }
                Err(e) => log::error(
                    "reload-failed",
                    &[("trigger", why), ("error", &e.to_string())],
                ),
            }
        }
    });

    log::info(
        "started",
        &[
            ("queue", &shared.config.queue),
            ("verified-exchange", &shared.config.verified_exchange),
            ("rejected-exchange", &shared.config.rejected_exchange),
        ],
    );
    let mut backoff = Duration::from_millis(100);
    let mut node = 0;
    loop {
        let mut stop_rx = stop.clone();
        let url = &shared.config.amqp[node];
        match session(&shared, url, &mut stop_rx).await {
            Ok(()) => break,
            Err(Failure { error, connected }) => {
                shared.metrics.connected.set(0);
                if connected {
                    backoff = Duration::from_millis(100);
                }
                // The next attempt goes to the next node (the same one when there is one).
                node = (node + 1) % shared.config.amqp.len();
                log::warn(
                    "disconnected",
                    &[
                        ("broker", &server_of(url)),
                        ("error", &error),
                        ("retry-in-ms", &backoff.as_millis().to_string()),
                    ],
                );
                let mut stop_rx = stop.clone();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped(&mut stop_rx) => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                shared.metrics.reconnects.inc();
            }
        }
    }
    shared.metrics.connected.set(0);
    log::info("stopped", &[]);
    Ok(())
}

/// Opens the replay store: `--replay-store` (or `--replay-cache`), else the bus file's
/// `replay_store`, else a journal in the state directory (created if missing). `memory`,
/// only when asked for by name, is logged as a warning: a restart forgets the window and no
/// other process shares it.
fn open_store(
    config: &GatewayConfig,
    bus: &waxseal_message::BusConfig,
) -> Result<(StoreSpec, Arc<dyn ReplayStore>), GatewayError> {
    let (spec, from) = match (&config.replay_store, &bus.replay_store) {
        (Some(s), _) => (s.clone(), "--replay-store"),
        (None, Some(s)) => (s.clone(), "replay_store in the bus file"),
        (None, None) => {
            let dir = &config.state_dir;
            std::fs::create_dir_all(dir)
                .map_err(|e| GatewayError::Config(format!("--state-dir {}: {e}", dir.display())))?;
            (config.default_store(), "the state directory")
        }
    };
    let store = spec
        .open(bus.freshness.replay_cache_capacity)
        .map_err(|e| GatewayError::Config(format!("replay store ({from}): {e}")))?;
    if spec == StoreSpec::Memory {
        log::warn(
            "replay-store-memory",
            &[(
                "detail",
                "the replay store is this process's memory: a restart forgets the replay window, and no other process shares it",
            )],
        );
    }
    log::info(
        "replay-store",
        &[("store", &store.describe()), ("from", from)],
    );
    Ok((spec, store))
}

/// The host and port of an AMQP URL, without credentials (for logs).
pub fn server_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or("").to_string()
}

/// Resolves once SIGTERM or SIGINT arrived (or the signal task is gone). Holds no borrow
/// of the flag when it resolves, so a `select!` handler may await after it.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A session that ended on an error; `connected`: it got as far as consuming.
struct Failure {
    error: String,
    connected: bool,
}

fn failure<E: std::fmt::Display>(connected: bool) -> impl Fn(E) -> Failure {
    move |e| Failure {
        error: e.to_string(),
        connected,
    }
}

/// How long connecting, declaring and starting to consume may take before the attempt
/// counts as failed (a broker that accepts connections but does not answer).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a session looks at its connection's state (see the module docs, "Reconnects").
pub const CONNECTION_CHECK: Duration = Duration::from_secs(1);

/// After how long without a delivery or a confirmation a session asks the broker
/// something (a passive declaration of its queue), to notice a connection that died
/// without a word: the client does not always say so.
pub const IDLE_PROBE: Duration = Duration::from_secs(3);

/// How long a drain waits for the broker's confirmations before closing anyway (what is
/// not acknowledged by then is redelivered).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// The connection, the consuming and publishing channels, the consumer's tag and its
/// deliveries.
struct Link {
    conn: Connection,
    consume: Channel,
    publish: publish::Confirming,
    tag: String,
    deliveries: UnboundedReceiver<ConsumerMessage>,
}

/// Connects to `url`, declares, and starts consuming.
async fn connect(c: &GatewayConfig, url: &str, memory: bool) -> Result<Link, Failure> {
    let url = BrokerUrl::parse(url).map_err(failure(false))?;
    let conn = Connection::open(&url.arguments())
        .await
        .map_err(failure(false))?;
    conn.register_callback(DefaultConnectionCallback)
        .await
        .map_err(failure(false))?;
    let consume = conn.open_channel(None).await.map_err(failure(false))?;
    consume
        .register_callback(DefaultChannelCallback)
        .await
        .map_err(failure(false))?;
    let publish = publish::confirming_channel(&conn)
        .await
        .map_err(failure(false))?;
    let others = amqp::declare(&consume, c).await.map_err(failure(false))?;
    if others > 0 && memory {
        log::warn(
            "replay-not-shared",
            &[(
                "detail",
                "other consumers share this queue but the replay store is memory: a replay split across processes is not detected",
            )],
        );
    }
    consume
        .basic_qos(BasicQosArguments::new(0, c.prefetch, false))
        .await
        .map_err(failure(false))?;
    let (tag, deliveries) = consume
        .basic_consume_rx(
            BasicConsumeArguments::new(&c.queue, "")
                .manual_ack(true)
                .finish(),
        )
        .await
        .map_err(failure(false))?;
    Ok(Link {
        conn,
        consume,
        publish,
        tag,
        deliveries,
    })
}

/// One connection: declare, consume until stopped (then drain: `Ok`) or until the
/// connection fails (`Err`).
async fn session(
    shared: &Arc<Shared>,
    url: &str,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Failure> {
    let c = &shared.config;
    let memory = shared.replay_store == StoreSpec::Memory;
    let Link {
        conn,
        consume,
        publish,
        tag,
        deliveries: mut consumer,
    } = tokio::select! {
        // Stopped before consuming: nothing is in flight.
        _ = stopped(stop) => return Ok(()),
        r = tokio::time::timeout(CONNECT_TIMEOUT, connect(c, url, memory)) => r.map_err(|_| Failure {
            error: format!("no answer from the broker within {} s", CONNECT_TIMEOUT.as_secs()),
            connected: false,
        })??,
    };
    let publish = Arc::new(Publisher::new(conn.clone(), publish));
    shared.metrics.connected.set(1);
    log::info(
        "connected",
        &[("queue", &c.queue), ("broker", &server_of(url))],
    );

    let mut tasks: JoinSet<Result<Done, SessionError>> = JoinSet::new();
    let mut acks = Acks::new(consume.clone());
    let mut unsettled = Unsettled::default();
    let mut settle_tick = tokio::time::interval(SETTLE_EVERY);
    settle_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The client does not always end the consumer stream when its connection dies (a
    // socket closed under it can leave the stream and every pending confirmation waiting
    // for ever): the state is looked at every second as well.
    let mut health = tokio::time::interval(CONNECTION_CHECK);
    health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_activity = Instant::now();
    let ended = loop {
        tokio::select! {
            _ = stopped(stop) => break None,
            _ = health.tick() => {
                if last_activity.elapsed() >= IDLE_PROBE {
                    // Quiet for a while: ask the broker something (the queue, passively),
                    // so that a connection that died without a word is noticed.
                    let probe = amqp::probe(&consume, &c.queue);
                    match tokio::time::timeout(CONNECT_TIMEOUT, probe).await {
                        Ok(Ok(_)) => last_activity = Instant::now(),
                        Ok(Err(e)) => break Some(format!("the broker refused a probe: {e}")),
                        Err(_) => break Some(format!(
                            "the broker did not answer a probe within {} s",
                            CONNECT_TIMEOUT.as_secs()
                        )),
                    }
                }
                if !conn.is_open() {
                    break Some("the connection is closed".to_string());
                }
            }
            next = consumer.recv() => match next.map(Delivery::new) {
                Some(Some(delivery)) => {
                    last_activity = Instant::now();
                    acks.arrived(delivery.tag);
                    let shared = shared.clone();
                    let publish = publish.clone();
                    tasks.spawn(async move { handle(&shared, &publish, delivery).await });
                }
                // Not a delivery: the client hands out none such.
                Some(None) => {}
                None if conn.is_open() => break Some("the broker cancelled the consumer".to_string()),
                None => break Some("the connection is closed".to_string()),
            },
            _ = settle_tick.tick(), if !unsettled.is_empty() => unsettled.flush(shared),
            Some(first) = tasks.join_next(), if !tasks.is_empty() => {
                last_activity = Instant::now();
                // Every delivery finished by now goes in one acknowledgement (one frame,
                // and one command of a quorum queue's log, for the run).
                let mut done = vec![first];
                while let Some(d) = tasks.try_join_next() {
                    done.push(d);
                }
                // An acknowledgement on a connection that died without a word can wait
                // for ever: bounded, it ends the session instead.
                match tokio::time::timeout(CONNECT_TIMEOUT, settle(shared, &mut acks, &mut unsettled, done)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => break Some(e.to_string()),
                    Err(_) => break Some(format!(
                        "an acknowledgement was not sent within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    )),
                }
            }
        }
    };
    if let Some(error) = ended {
        tasks.abort_all();
        // Their acknowledgements went out (or the broker will redeliver them, and then
        // refuse them as replays after their verified copies: see the module docs).
        unsettled.flush(shared);
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
        return Err(Failure {
            error,
            connected: true,
        });
    }

    // Drain: no new deliveries; finish, confirm and acknowledge what was delivered.
    log::info("draining", &[("in-flight", &tasks.len().to_string())]);
    shared.metrics.connected.set(0);
    let _ = tokio::time::timeout(
        CONNECT_TIMEOUT,
        consume.basic_cancel(BasicCancelArguments::new(&tag)),
    )
    .await;
    // Deliveries already sent before the cancellation took effect are handled too (left
    // unacknowledged they would only be redelivered).
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await
    {
        let Some(delivery) = Delivery::new(message) else {
            continue;
        };
        acks.arrived(delivery.tag);
        let shared = shared.clone();
        let publish = publish.clone();
        tasks.spawn(async move { handle(&shared, &publish, delivery).await });
    }
    let mut failed = None;
    let finish = async {
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = settle(shared, &mut acks, &mut unsettled, vec![done]).await {
                failed = Some(e.to_string());
            }
        }
    };
    if tokio::time::timeout(DRAIN_TIMEOUT, finish).await.is_err() {
        failed = Some(format!(
            "confirmations still pending after {} s",
            DRAIN_TIMEOUT.as_secs()
        ));
    }
    unsettled.flush(shared);
    if let Some(e) = failed {
        // What was not acknowledged is redelivered to another process.
        log::warn("drain-incomplete", &[("error", &e)]);
    }
    let _ = tokio::time::timeout(CONNECT_TIMEOUT, conn.close()).await;
    Ok(())
}

/// A delivery whose copy the broker answered for.
struct Done {
    tag: u64,
    /// The broker confirmed the copy (otherwise: requeue the delivery).
    confirmed: bool,
    /// The replay key admitted for it, to settle after the acknowledgement.
    key: Option<Key>,
    started: Instant,
}

/// Acknowledges (batched, see [`crate::acks`]) or requeues finished deliveries. An error
/// ends the session; what is not acknowledged is redelivered.
async fn settle(
    shared: &Shared,
    acks: &mut Acks,
    unsettled: &mut Unsettled,
    finished: Vec<Result<Result<Done, SessionError>, tokio::task::JoinError>>,
) -> Result<(), SessionError> {
    for done in finished {
        let done = match done {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(SessionError::Task(e)),
        };
        if done.confirmed {
            acks.done(done.tag, done.key);
            shared
                .metrics
                .latency
                .observe(done.started.elapsed().as_secs_f64());
        } else {
            // The broker did not take it: try again later (requeued, redelivered).
            acks.requeue(done.tag).await?;
        }
    }
    let covered = acks.flush().await?;
    unsettled.add(shared, covered.keys);
    Ok(())
}

/// How many acknowledged keys are settled together at most.
pub const SETTLE_BATCH: usize = 64;

/// How long an acknowledged key waits at most before it is settled.
pub const SETTLE_EVERY: Duration = Duration::from_millis(20);

/// Keys whose acknowledgement went out and that are not settled yet: settled together,
/// [`SETTLE_BATCH`] at a time or every [`SETTLE_EVERY`], so that a store pays one call
/// (one lock of the journal, one round trip to Redis) for many messages. A key waiting
/// here is admitted: a new copy of its message is refused all the same; only a broker
/// redelivery of it in those milliseconds, which does not come after an acknowledgement,
/// would pass as a flagged duplicate.
#[derive(Default)]
struct Unsettled(Vec<Key>);

impl Unsettled {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn add(&mut self, shared: &Shared, keys: Vec<Key>) {
        self.0.extend(keys);
        if self.0.len() >= SETTLE_BATCH {
            self.flush(shared);
        }
    }

    fn flush(&mut self, shared: &Shared) {
        settle_keys(shared, std::mem::take(&mut self.0));
    }
}

/// Settles `keys`, whose acknowledgement went out: a remote store on a blocking thread, a
/// local one in place. A failure is logged and counted: the keys stay admitted, so new copies of their
/// messages are still refused; only a broker redelivery of them, which no longer comes
/// after the acknowledgement, would pass as a flagged duplicate.
fn settle_keys(shared: &Shared, keys: Vec<Key>) {
    if keys.is_empty() {
        return;
    }
    let bus: Arc<Bus> = shared.bus.current();
    let settled = shared.metrics.settled.clone();
    let failures = shared.metrics.settle_failures.clone();
    let settle = move || {
        // One call (one round trip to a remote store) for every key the acknowledgement
        // covered.
        let count = keys.len() as u64;
        match bus.settle_all(&keys) {
            Ok(()) => {
                settled.inc_by(count);
            }
            Err(r) => {
                failures.inc_by(count);
                log::warn(
                    "settle-failed",
                    &[
                        ("reason", &r.code),
                        ("error", &r.reason),
                        ("keys", &count.to_string()),
                    ],
                );
            }
        }
    };
    if shared.replay_store.is_remote() {
        tokio::task::spawn_blocking(settle);
    } else {
        // A local store answers in a few system calls, as its admissions do: here, not
        // with a hand-off to another thread per acknowledgement.
        settle();
    }
}

/// Validates one delivery, republishes it and waits for the broker's confirmation; the
/// session then acknowledges it ([`settle`]). An error is a session problem (the
/// connection lost...): the session ends and the message is redelivered. A message the
/// broker refuses on its own is published to the rejected exchange as
/// [`REPUBLISH_REFUSED`]; a verified message no queue takes, as [`UNROUTABLE`]. A
/// message not decided, or whose copy the broker did not take, is requeued after the
/// shared [`Backoff`] delay.
async fn handle(
    shared: &Shared,
    publisher: &Publisher,
    delivery: Delivery,
) -> Result<Done, SessionError> {
    let started = Instant::now();
    let m = &shared.metrics;
    m.received.inc();
    let c = &shared.config;
    let routing_key = delivery.routing_key.as_str();
    let bus = shared.bus.current();
    let outcome = match check::examine(&bus, &amqp::arrival(c, &delivery), &delivery.data) {
        Err(outcome) => outcome,
        Ok(examined) => {
            // Recorded with the deliveries that wait with this one (see [`crate::admitter`]).
            let admitted = shared.admitter.admit(bus.clone(), examined).await?;
            check::finish(admitted, &delivery.data, shared.countersigner.as_ref())
        }
    };
    let id = outcome.id();
    let published = match &outcome {
        Outcome::Verified {
            entity,
            body,
            id,
            duplicate,
            ..
        } => {
            let mut h = vec![(amqp::ID, id.as_str())];
            if let Some(e) = entity {
                h.push((amqp::ENTITY, e.as_str()));
            }
            if *duplicate {
                h.push((amqp::REDELIVERED, "true"));
            }
            let out = Outgoing {
                exchange: &c.verified_exchange,
                routing_key,
                mandatory: true,
                body: body.as_deref().unwrap_or(&delivery.data),
                properties: amqp::properties(&delivery.properties, &h),
            };
            match publisher.publish(&out).await {
                Ok(Confirmation::Returned) => {
                    // No queue is bound for it: not lost silently, refused as unroutable.
                    m.unroutable.inc();
                    log::warn("unroutable", &[("routing-key", routing_key), ("id", id)]);
                    reject(shared, publisher, &delivery, UNROUTABLE, id).await?
                }
                Ok(confirmation) => {
                    if confirmation.is_ack() {
                        m.verified.inc();
                        if *duplicate {
                            m.duplicates.inc();
                        }
                    }
                    confirmation.is_ack()
                }
                Err(PublishError::Refused(why)) => {
                    republish_refused(shared, publisher, &delivery, id, &why).await?
                }
                Err(PublishError::Session(e)) => return Err(SessionError::Publish(e)),
            }
        }
        Outcome::Requeue { reason, detail, .. } => {
            // Not the message's fault: neither published nor refused; requeued, after a
            // delay so that the gateway does not spin on what it cannot decide yet.
            m.requeue(reason);
            let delay = shared.requeue.failed();
            log::warn(
                "requeued",
                &[
                    ("reason", reason),
                    ("detail", detail),
                    ("routing-key", routing_key),
                    ("id", id),
                    ("retry-in-ms", &delay.as_millis().to_string()),
                ],
            );
            tokio::time::sleep(delay).await;
            return Ok(Done {
                tag: delivery.tag,
                confirmed: false,
                key: None,
                started,
            });
        }
        Outcome::Refused { reason, detail, .. } => {
            if c.verbose {
                log::info(
                    "refused",
                    &[
                        ("reason", reason),
                        ("detail", detail),
                        ("routing-key", routing_key),
                        ("id", id),
                    ],
                );
            }
            reject(shared, publisher, &delivery, reason, id).await?
        }
    };
    if published {
        shared.requeue.succeeded();
    } else {
        // The broker did not take the copy (a negative confirmation): try again later.
        m.requeue(BROKER_NACK);
        let delay = shared.requeue.failed();
        log::warn(
            "requeued",
            &[
                ("reason", BROKER_NACK),
                ("routing-key", routing_key),
                ("id", id),
                ("retry-in-ms", &delay.as_millis().to_string()),
            ],
        );
        tokio::time::sleep(delay).await;
    }
    // A key the store admitted is settled once the acknowledgement went out, whichever
    // exchange the copy went to (verified, or rejected as unroutable).
    let key = match &outcome {
        Outcome::Verified { key, .. } if published => *key,
        _ => None,
    };
    Ok(Done {
        tag: delivery.tag,
        confirmed: published,
        key,
        started,
    })
}

/// Publishes the delivery to the rejected exchange with `reason`; whether the broker
/// confirmed it.
async fn reject(
    shared: &Shared,
    publisher: &Publisher,
    delivery: &Delivery,
    reason: &str,
    id: &str,
) -> Result<bool, SessionError> {
    let out = Outgoing {
        exchange: &shared.config.rejected_exchange,
        routing_key: delivery.routing_key.as_str(),
        mandatory: false,
        body: &delivery.data,
        properties: amqp::properties(
            &delivery.properties,
            &[(amqp::REASON, reason), (amqp::ID, id)],
        ),
    };
    match publisher.publish(&out).await {
        Ok(confirmation) => {
            if confirmation.is_ack() {
                shared.metrics.refuse(reason);
            }
            Ok(confirmation.is_ack())
        }
        Err(PublishError::Refused(why)) => {
            republish_refused(shared, publisher, delivery, id, &why).await
        }
        Err(PublishError::Session(e)) => Err(SessionError::Publish(e)),
    }
}

/// The broker refused the delivery's copy on its own (`why`, the broker's text): the
/// delivery goes to the rejected exchange as [`REPUBLISH_REFUSED`], body unchanged, with
/// its content type and message id only. If the broker refuses even that, the session
/// ends (the delivery is redelivered).
async fn republish_refused(
    shared: &Shared,
    publisher: &Publisher,
    delivery: &Delivery,
    id: &str,
    why: &str,
) -> Result<bool, SessionError> {
    let routing_key = delivery.routing_key.as_str();
    log::warn(
        "republish-refused",
        &[("error", why), ("routing-key", routing_key), ("id", id)],
    );
    let out = Outgoing {
        exchange: &shared.config.rejected_exchange,
        routing_key,
        mandatory: false,
        body: &delivery.data,
        properties: amqp::minimal_properties(
            &delivery.properties,
            &[(amqp::REASON, REPUBLISH_REFUSED), (amqp::ID, id)],
        ),
    };
    match publisher.publish_alone(&out).await {
        Ok(confirmation) => {
            if confirmation.is_ack() {
                shared.metrics.refuse(REPUBLISH_REFUSED);
            }
            Ok(confirmation.is_ack())
        }
        Err(PublishError::Refused(e) | PublishError::Session(e)) => {
            Err(SessionError::RepublishRefused(e))
        }
    }
}

/// Why a message task or an acknowledgement ends the session: a failure of the session,
/// not of the message (what is not acknowledged is redelivered).
#[derive(Debug, thiserror::Error)]
enum SessionError {
    /// The replay store's admission got no answer.
    #[error(transparent)]
    Admitter(#[from] crate::admitter::AdmitterError),
    /// Publishing failed for the session (the connection, an exchange), not the message.
    #[error("{0}")]
    Publish(String),
    /// The broker refused a message even as [`REPUBLISH_REFUSED`].
    #[error("the broker refused a message even as {REPUBLISH_REFUSED}: {0}")]
    RepublishRefused(String),
    /// A message task panicked or was cancelled.
    #[error("a message task failed: {0}")]
    Task(tokio::task::JoinError),
    /// An acknowledgement or a requeue could not be sent.
    #[error("{0}")]
    Ack(#[from] amqprs::error::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_is_logged_without_its_credentials() {
        assert_eq!(
            server_of("amqp://gw:s3cret@10.0.0.7:5672/%2f?heartbeat=10"),
            "10.0.0.7:5672"
        );
        assert_eq!(server_of("amqp://127.0.0.1"), "127.0.0.1");
        assert_eq!(server_of("amqps://u:p@h:5671"), "h:5671");
    }
}
