//! Admissions to the replay store, batched: every delivery examined while another waits
//! to be recorded is recorded with it ([`Bus::admit_examined_all`]: one lock and one
//! append of a journal, one pipelined round trip to Redis), and each gets its own answer.
//!
//! - **A remote store** (Redis): the worker hands each examined delivery to one thread of
//!   its own, which records every delivery waiting at that moment and answers each. The
//!   worker verifies the next deliveries meanwhile, and pays one thread hand-off per
//!   batch, not per message.
//! - **A local store** (a journal, memory): recorded in place, on the runtime. The first
//!   delivery to wait leads: it lets the deliveries that are ready now be examined first
//!   (one yield to the scheduler), then records them all with it. A store that answers
//!   in a few system calls gains nothing from another thread.

use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use tokio::sync::oneshot;
use waxseal_message::{Admitted, Bus, Examined, Rejection};

/// The most deliveries recorded in one batch by the admitting thread.
pub const BATCH: usize = 256;

/// One delivery to record: the bus it was examined with, and where its answer goes.
type Request = (
    Arc<Bus>,
    Examined,
    oneshot::Sender<Result<Admitted, Rejection>>,
);

/// Where admissions are recorded: see the module docs.
pub enum Admitter {
    /// A thread of its own (a remote store); the thread ends when this is dropped.
    Thread(mpsc::Sender<Request>),
    /// In place, batched on the runtime (a local store).
    InPlace(Mutex<Waiting>),
}

/// The deliveries waiting to be recorded in place.
#[derive(Default)]
pub struct Waiting {
    requests: Vec<Request>,
    /// A delivery leads the next batch (it records what waits once it runs again).
    led: bool,
}

fn lock(w: &Mutex<Waiting>) -> MutexGuard<'_, Waiting> {
    // Nothing panics while holding it; a poisoned lock still holds consistent data.
    w.lock().unwrap_or_else(|e| e.into_inner())
}

/// Clears the lead when the leading delivery's task was aborted before it recorded the
/// batch (the session ended): the next delivery leads, and records what was left as
/// well. (A lead that runs to the end gives the lead up itself, when nothing waits.)
struct Lead<'a>(&'a Mutex<Waiting>);

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        lock(self.0).led = false;
    }
}

impl Admitter {
    /// Starts the admitting thread (a remote store).
    pub fn start() -> std::io::Result<Self> {
        let (requests, waiting) = mpsc::channel();
        std::thread::Builder::new()
            .name("replay-admitter".into())
            .spawn(move || serve(waiting))?;
        Ok(Self::Thread(requests))
    }

    /// Admissions recorded in place (a local store).
    pub fn in_place() -> Self {
        Self::InPlace(Mutex::default())
    }

    /// Records `examined` in `bus`'s replay store, with the deliveries that wait with it.
    /// `Err`: the admitting thread is gone (a session problem: the delivery is
    /// redelivered).
    pub async fn admit(
        &self,
        bus: Arc<Bus>,
        examined: Examined,
    ) -> Result<Result<Admitted, Rejection>, AdmitterError> {
        let (answer, answered) = oneshot::channel();
        match self {
            Self::Thread(requests) => requests
                .send((bus, examined, answer))
                .map_err(|_| AdmitterError::ThreadGone)?,
            Self::InPlace(waiting) => {
                let leads = {
                    let mut w = lock(waiting);
                    w.requests.push((bus, examined, answer));
                    !std::mem::replace(&mut w.led, true)
                };
                if leads {
                    let lead = Lead(waiting);
                    // The deliveries ready now are examined, and join, before this runs on.
                    tokio::task::yield_now().await;
                    // Deliveries that joined while a batch was being recorded (on another
                    // worker thread) saw a lead and wait for it: the lead records until
                    // it finds nothing waiting, and gives the lead up in the same look,
                    // so no delivery is left waiting without one.
                    loop {
                        let batch = {
                            let mut w = lock(waiting);
                            if w.requests.is_empty() {
                                w.led = false;
                                break;
                            }
                            std::mem::take(&mut w.requests)
                        };
                        record(batch);
                    }
                    // The lead was given up above, in the look that found nothing waiting
                    // (another delivery may lead by now): the guard is only for an abort.
                    std::mem::forget(lead);
                }
            }
        }
        answered.await.map_err(|_| AdmitterError::NoAnswer)
    }
}

/// Why an admission got no answer: a session problem (the delivery is redelivered), not
/// the message's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitterError {
    /// The admitting thread has ended.
    #[error("the replay-store admission thread is gone")]
    ThreadGone,
    /// The request was dropped without an answer.
    #[error("the replay store gave no answer")]
    NoAnswer,
}

/// The admitting thread: takes every request waiting (up to [`BATCH`]), records it, and
/// waits for more.
fn serve(waiting: mpsc::Receiver<Request>) {
    while let Ok(first) = waiting.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match waiting.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        record(batch);
    }
}

/// Records each run of requests examined with the same bus together, and answers each.
fn record(batch: Vec<Request>) {
    let mut batch = batch.into_iter().peekable();
    while let Some((bus, examined, answer)) = batch.next() {
        // A reload between two deliveries: each run is recorded with its own bus.
        let mut run = vec![(examined, answer)];
        while let Some((_, e, a)) = batch.next_if(|(b, _, _)| Arc::ptr_eq(b, &bus)) {
            run.push((e, a));
        }
        let (examined, answers): (Vec<_>, Vec<_>) = run.into_iter().unzip();
        for (admitted, answer) in bus.admit_examined_all(examined).into_iter().zip(answers) {
            // A delivery whose task is gone (its session ended) needs no answer.
            let _ = answer.send(admitted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use waxseal_envelope::Signer;
    use waxseal_message::{Arrival, BusConfig};
    use waxseal_pki::TestPki;
    use waxseal_trust::KeyAlgorithm;

    /// Many deliveries admitted at once on a runtime of two worker threads, as
    /// `--threads 2` runs them: each gets its answer. A delivery that joined while the lead
    /// was recording a batch on the other thread used to wait for ever (the gateway then
    /// held it unacknowledged until it stopped).
    #[test]
    fn every_delivery_admitted_in_place_on_two_threads_gets_its_answer() {
        let pki = TestPki::new(KeyAlgorithm::P256).unwrap();
        let leaf = pki
            .leaf("bodhi-app01.example.org", KeyAlgorithm::P256)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("root.crt"), pki.root.cert.to_pem()).unwrap();
        std::fs::write(dir.path().join("ca.crt"), pki.ca.cert.to_pem()).unwrap();
        let config = BusConfig::from_json(
            r#"{"trust": ["root.crt"], "certs": ["ca.crt"],
                "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]}}"#,
            dir.path(),
        )
        .unwrap();
        let bus = Arc::new(Bus::new(config).unwrap());
        let signer = Signer::new(leaf.cert.clone(), leaf.key.clone()).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let admitter = Arc::new(Admitter::in_place());
        for round in 0..20 {
            let examined: Vec<Examined> = (0..200)
                .map(|n| {
                    let m = serde_json::json!({
                        "topic": "org.example.prod.bodhi.update.comment",
                        "msg": {"round": round, "n": n},
                    });
                    let body =
                        serde_json::to_vec(&waxseal_message::sign(&m, &signer).unwrap()).unwrap();
                    bus.examine(&body, &Arrival::unrouted()).unwrap()
                })
                .collect();
            let answers = runtime.block_on(async {
                let tasks: Vec<_> = examined
                    .into_iter()
                    .map(|e| {
                        let (admitter, bus) = (admitter.clone(), bus.clone());
                        tokio::spawn(async move { admitter.admit(bus, e).await })
                    })
                    .collect();
                let mut answers = Vec::new();
                for t in tasks {
                    let answer = tokio::time::timeout(Duration::from_secs(20), t)
                        .await
                        .expect("every delivery is answered")
                        .unwrap();
                    answers.push(answer);
                }
                answers
            });
            assert_eq!(answers.len(), 200);
            for a in answers {
                let admitted = a.expect("answered").expect("admitted");
                assert!(!admitted.duplicate, "each message is new");
            }
        }
    }
}
