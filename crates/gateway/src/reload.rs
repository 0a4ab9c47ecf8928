//! The bus configuration, reloaded without stopping: [`BusHandle`] holds the current
//! [`Bus`]; a reload (SIGHUP, or a change of one of [`BusHandle::watched_files`] seen by
//! [`Watcher`]) builds a new one beside it and swaps it in. A message being validated
//! keeps the bus it started with (an `Arc`), so nothing in flight is dropped or refused
//! because of a reload; a configuration that does not load is logged and the previous bus
//! stays. A configuration with `validate_signatures: false` is refused the same way (at
//! start, the gateway does not run). Every bus shares one replay store, so a reload forgets no accepted message.
//!
//! Trust anchors, certificates and CRLs given as files are also re-read by the bus itself
//! when they change (it checks their modification time before each message); the watcher
//! adds the bus configuration file and the registry, which the bus reads only once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use waxseal_message::{Bus, BusConfig, ConfigError, ReplayStore, Source};

/// Why a bus configuration was not taken (at start: exit status 2; on a reload: the
/// running bus stays).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// The configuration does not load.
    #[error("{0}")]
    Load(#[from] ConfigError),
    /// `validate_signatures: false`: a gateway that checks nothing would republish
    /// anything to the verified exchange, so it is refused rather than run.
    #[error(
        "{0}: validate_signatures is false; the gateway verifies every message and does not run without validation"
    )]
    ValidationOff(String),
}

/// The current bus, and how to build the next.
pub struct BusHandle {
    path: PathBuf,
    store: Arc<dyn ReplayStore>,
    refresh: Duration,
    current: RwLock<Arc<Bus>>,
}

impl BusHandle {
    /// Loads the bus configuration at `path`, remembering accepted messages in `store`.
    /// `refresh`: how often, at most, the bus itself checks its trust files
    /// ([`Bus::with_refresh_interval`]); the gateway's file watcher checks them as often and
    /// rebuilds the whole bus, so the bus need not check before every message.
    pub fn load(
        path: &Path,
        store: Arc<dyn ReplayStore>,
        refresh: Duration,
    ) -> Result<Self, BusError> {
        let bus = build(path, &store, refresh)?;
        Ok(Self {
            path: path.to_path_buf(),
            store,
            refresh,
            current: RwLock::new(Arc::new(bus)),
        })
    }

    /// The bus to validate the next message with.
    pub fn current(&self) -> Arc<Bus> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Builds the bus again from its files and swaps it in; on an error (including a
    /// configuration that switches validation off) the current bus stays.
    pub fn reload(&self) -> Result<(), BusError> {
        let bus = build(&self.path, &self.store, self.refresh)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(bus);
        Ok(())
    }

    /// The files whose change triggers a reload: the configuration, the registry, and the
    /// trust, certificate and CRL files and directories.
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let bus = self.current();
        let c: &BusConfig = bus.config();
        let mut files = vec![self.path.clone()];
        files.extend(c.registry.clone());
        for s in c.trust.iter().chain(&c.certs).chain(&c.crls) {
            if let Source::Path(p) = s {
                files.push(p.clone());
            }
        }
        files
    }
}

fn build(path: &Path, store: &Arc<dyn ReplayStore>, refresh: Duration) -> Result<Bus, BusError> {
    let bus = Bus::from_config_file(path)?;
    if !bus.config().validate_signatures {
        return Err(BusError::ValidationOff(path.display().to_string()));
    }
    Ok(bus
        .with_replay_store(store.clone())
        .with_refresh_interval(refresh))
}

/// Notices changed files by their modification time, size and inode.
pub struct Watcher {
    stamps: Vec<(PathBuf, Option<Stamp>)>,
}

type Stamp = (SystemTime, u64, u64);

fn stamp(p: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

impl Watcher {
    /// Watches `files` from their current state.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self {
            stamps: files
                .into_iter()
                .map(|f| {
                    let s = stamp(&f);
                    (f, s)
                })
                .collect(),
        }
    }

    /// Whether any file changed since the last call (or since [`Watcher::new`]).
    pub fn changed(&mut self) -> bool {
        let mut changed = false;
        for (f, s) in &mut self.stamps {
            let now = stamp(f);
            if now != *s {
                *s = now;
                changed = true;
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waxseal_message::replay::memory::MemoryStore as Memory;

    #[test]
    fn a_bus_without_validation_is_refused_at_load_and_on_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bus.json");
        let store: Arc<dyn ReplayStore> = Arc::new(Memory::new(16));
        std::fs::write(&path, r#"{"validate_signatures": false}"#).unwrap();
        let err = BusHandle::load(&path, store.clone(), Duration::ZERO).err();
        assert!(matches!(err, Some(BusError::ValidationOff(_))), "{err:?}");

        // A bus that validates: its twin loads.
        let pki = waxseal_pki::TestPki::new(waxseal_trust::KeyAlgorithm::P256).unwrap();
        std::fs::write(dir.path().join("root.crt"), pki.root.cert.to_pem()).unwrap();
        std::fs::write(&path, r#"{"trust": ["root.crt"]}"#).unwrap();
        let h = BusHandle::load(&path, store, Duration::ZERO).unwrap();
        let before = h.current();
        std::fs::write(&path, r#"{"validate_signatures": false}"#).unwrap();
        assert!(matches!(h.reload(), Err(BusError::ValidationOff(_))));
        assert!(Arc::ptr_eq(&before, &h.current()), "the running bus stays");
        assert!(h.current().config().validate_signatures);
    }
}
