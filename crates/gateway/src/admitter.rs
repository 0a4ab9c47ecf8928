//! Admissions to a remote replay store (Redis), batched: the worker hands each examined
//! delivery to one thread of its own, which records every delivery waiting at that moment
//! in one pipelined round trip ([`Bus::admit_examined_all`]) and answers each. The worker
//! verifies the next deliveries meanwhile; the store sees one round trip for many
//! messages, and the gateway pays one thread hand-off per batch, not per message.

use std::sync::{Arc, mpsc};

use tokio::sync::oneshot;
use waxseal_message::{Admitted, Bus, Examined, Rejection};

/// The most deliveries recorded in one round trip.
pub const BATCH: usize = 256;

/// One delivery to record: the bus it was examined with, and where its answer goes.
type Request = (
    Arc<Bus>,
    Examined,
    oneshot::Sender<Result<Admitted, Rejection>>,
);

/// The handle of the admitting thread (see the module docs); the thread ends when the
/// handle is dropped.
pub struct Admitter {
    requests: mpsc::Sender<Request>,
}

impl Admitter {
    /// Starts the admitting thread.
    pub fn start() -> std::io::Result<Self> {
        let (requests, waiting) = mpsc::channel();
        std::thread::Builder::new()
            .name("replay-admitter".into())
            .spawn(move || serve(waiting))?;
        Ok(Self { requests })
    }

    /// Records `examined` in `bus`'s replay store, with the deliveries that wait with it.
    /// `Err`: the admitting thread is gone (a session problem: the delivery is
    /// redelivered).
    pub async fn admit(
        &self,
        bus: Arc<Bus>,
        examined: Examined,
    ) -> Result<Result<Admitted, Rejection>, String> {
        let (answer, answered) = oneshot::channel();
        self.requests
            .send((bus, examined, answer))
            .map_err(|_| "the replay-store admission thread is gone".to_string())?;
        answered
            .await
            .map_err(|_| "the replay-store admission thread gave no answer".to_string())
    }
}

/// The admitting thread: takes every request waiting (up to [`BATCH`]), records each run
/// of requests examined with the same bus together, answers, and waits for more.
fn serve(waiting: mpsc::Receiver<Request>) {
    while let Ok(first) = waiting.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match waiting.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
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
}
