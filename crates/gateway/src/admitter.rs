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

/// Clears the lead when the leading delivery is done, or its task was aborted before it
/// recorded the batch (the session ended): the next delivery leads, and records what
/// was left as well.
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
                    let _lead = Lead(waiting);
                    // The deliveries ready now are examined, and join, before this runs on.
                    tokio::task::yield_now().await;
                    let batch = std::mem::take(&mut lock(waiting).requests);
                    record(batch);
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
