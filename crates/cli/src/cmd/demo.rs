//! `waxseal demo`: the main job, end to end, with no setup and no server.
//!
//! In a fresh directory: a PKI (root and signing CA), one key pair per service-host in
//! three algorithms, then an oslo-style RPC request `select_destinations` from
//! compute-node01 whose payload claims to come from compute-node01. The compute node signs
//! it, the conductor verifies and countersigns (a routing-slip hop), and the scheduler
//! verifies the whole slip, maps each certificate to its entity and authorizes the request
//! by routing policy and claim. Then five forgeries, each of which must be refused for its
//! own reason. Exit 0 only if every verdict is the expected one.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};
use waxseal_envelope::Signer;
use waxseal_message::{Bus, OsloVerified, Rejection, Route, oslo};
use waxseal_pki::{Lifetimes, PkiDir, Seed, ServiceHost};
use waxseal_trust::{KeyAlgorithm, KeyFileCheck};

use crate::error::CliError;

/// `waxseal demo` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Work in DIR (created; must be empty) and keep it, instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    json: bool,
}

const NODE1: &str = "compute-node01.example.org";
const NODE2: &str = "compute-node02.example.org";
const CONDUCTOR: &str = "conductor-node01.example.org";
const SCHEDULER: &str = "scheduler-node01.example.org";

/// One verdict of the demo.
#[derive(Serialize)]
struct Case {
    name: &'static str,
    expected: &'static str,
    /// The service whose verdict this is: `conductor` (refused at the first hop) or
    /// `scheduler`.
    checked_by: &'static str,
    /// The topic that service received it on.
    topic: &'static str,
    /// The message as received, relative to the demo directory.
    message: String,
    verdict: String,
    reason: String,
    ok: bool,
}

#[derive(Serialize)]
struct Report {
    dir: String,
    services: Vec<(String, String)>,
    accepted: Option<OsloVerified>,
    cases: Vec<Case>,
    ok: bool,
}

fn fail(e: &dyn std::fmt::Display) -> CliError {
    CliError::usage(format!("demo setup failed: {e}"))
}

/// What the service that checked a request decided.
struct Verdict {
    /// `conductor` or `scheduler`.
    by: &'static str,
    /// The topic it was received on.
    topic: &'static str,
    /// The message as that service received it, relative to the demo directory.
    message: String,
    result: Result<OsloVerified, Rejection>,
}

struct World {
    pki_dir: PathBuf,
    /// Where each case's message is written, as the scheduler received it.
    messages_dir: PathBuf,
    conductor: Bus,
    scheduler: Bus,
    conductor_config: PathBuf,
    scheduler_config: PathBuf,
    /// Each compute node's signer for each topic it sends to (the route is signed),
    /// loaded up front: a revoked node still holds its key.
    signers: std::collections::HashMap<(String, String), Signer>,
}

impl World {
    /// The demo's services in `dir` (whose `pki/` holds the demo PKI): their
    /// configurations written, their buses loaded, the compute nodes' signers ready.
    fn new(dir: &Path) -> Result<Self, CliError> {
        let (conductor, scheduler) = service_configs();
        let conductor_config = dir.join("conductor.json");
        let scheduler_config = dir.join("scheduler.json");
        write_config(&conductor_config, &conductor)?;
        write_config(&scheduler_config, &scheduler)?;
        let messages_dir = dir.join("messages");
        std::fs::create_dir(&messages_dir).map_err(|e| CliError::io(&messages_dir, e))?;
        let mut world = World {
            pki_dir: dir.join("pki"),
            messages_dir,
            conductor: load_bus(&conductor_config)?,
            scheduler: load_bus(&scheduler_config)?,
            conductor_config,
            scheduler_config,
            signers: Default::default(),
        };
        for name in [NODE1, NODE2] {
            for topic in ["conductor", "scheduler"] {
                let s = oslo::route_signer(world.load_signer(name)?, &Route::topic(topic))
                    .map_err(|e| fail(&e))?;
                world
                    .signers
                    .insert((name.to_string(), topic.to_string()), s);
            }
        }
        Ok(world)
    }

    /// Reloads both services' configurations (and with them the CRL).
    fn reload(&mut self) -> Result<(), CliError> {
        self.conductor = load_bus(&self.conductor_config)?;
        self.scheduler = load_bus(&self.scheduler_config)?;
        Ok(())
    }

    fn signer(&self, name: &str, topic: &str) -> Result<&Signer, CliError> {
        self.signers
            .get(&(name.to_string(), topic.to_string()))
            .ok_or_else(|| fail(&format!("no signer {name} for {topic}")))
    }

    fn load_signer(&self, name: &str) -> Result<Signer, CliError> {
        waxseal_pki::load_signer(&self.pki_dir, name, KeyFileCheck::OwnerOnly).map_err(|e| fail(&e))
    }

    /// Writes `envelope` as `messages/<file>` and returns the bytes written.
    fn keep(&self, file: &str, envelope: &Value) -> Result<Vec<u8>, CliError> {
        let wire = serde_json::to_vec(envelope).map_err(|e| fail(&e))?;
        let path = self.messages_dir.join(file);
        waxseal_pki::fsutil::replace(&path, &wire, waxseal_pki::fsutil::OUTPUT_MODE)
            .map_err(|e| CliError::io(&path, e))?;
        Ok(wire)
    }

    /// One request through the route: `origin` signs a request claiming `host` for the
    /// conductor (or, unless `via_conductor`, straight for `topic`), the conductor verifies
    /// it and countersigns, re-binding the route to `topic`; `tamper` alters the payload in
    /// transit, and the scheduler verifies it as received on `topic`. The message is kept
    /// as `messages/<file>`.
    fn request(
        &self,
        file: &str,
        origin: &str,
        host: &str,
        via_conductor: bool,
        tamper: bool,
        topic: &'static str,
    ) -> Result<Verdict, CliError> {
        // Like oslo.messaging, every message carries a unique id: two requests are never
        // the same message (the replay caches would refuse the second).
        let rpc = json!({
            "method": "select_destinations",
            "args": {"host": host, "request_spec": {"num_instances": 1, "flavor": "m1.small"}},
            "version": "4.3",
            "_unique_id": file.trim_end_matches(".json")
        });
        let wrapped = oslo::wrap(&rpc).map_err(|e| fail(&e))?;
        let first = if via_conductor { "conductor" } else { topic };
        let mut envelope =
            oslo::sign(&wrapped, self.signer(origin, first)?).map_err(|e| fail(&e))?;
        if via_conductor {
            if let Err(r) = self.conductor.verify_oslo(&envelope, "conductor") {
                // Refused at the first hop: it never reaches the scheduler.
                self.keep(file, &envelope)?;
                return Ok(Verdict {
                    by: "conductor",
                    topic: "conductor",
                    message: format!("messages/{file}"),
                    result: Err(r),
                });
            }
            let hop = waxseal_slip::hop_signer(
                self.load_signer(CONDUCTOR)?,
                Some("conductor"),
                Some("forwarded"),
            )
            .map_err(|e| fail(&e))?;
            let hop = oslo::route_signer(hop, &Route::topic(topic)).map_err(|e| fail(&e))?;
            envelope = oslo::countersign(&envelope, &hop, 8).map_err(|e| fail(&e))?;
        }
        if tamper {
            let text = envelope[oslo::MESSAGE_KEY]
                .as_str()
                .unwrap_or_default()
                .replace("\"num_instances\":1", "\"num_instances\":50");
            envelope[oslo::MESSAGE_KEY] = Value::String(text);
        }
        // Over the wire: the scheduler parses the bytes strictly.
        let wire = self.keep(file, &envelope)?;
        Ok(Verdict {
            by: "scheduler",
            topic,
            message: format!("messages/{file}"),
            result: self.scheduler.verify_oslo_bytes(&wire, topic),
        })
    }
}

fn load_bus(path: &Path) -> Result<Bus, CliError> {
    Bus::from_config_file(path).map_err(|e| fail(&e))
}

fn write_config(path: &Path, config: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(config).map_err(|e| fail(&e))?;
    waxseal_pki::fsutil::replace(path, text.as_bytes(), waxseal_pki::fsutil::OUTPUT_MODE)
        .map_err(|e| CliError::io(path, e))
}

/// The demo's service hosts and the key algorithm of each.
const SERVICES: [(&str, KeyAlgorithm); 4] = [
    (NODE1, KeyAlgorithm::P256),
    (NODE2, KeyAlgorithm::P256),
    (CONDUCTOR, KeyAlgorithm::Ed25519),
    (SCHEDULER, KeyAlgorithm::Rsa2048),
];

/// Runs `waxseal demo`.
pub fn run(args: Args) -> Result<(), CliError> {
    let (_tmp, dir) = work_dir(args.dir.as_deref())?;
    let mut pki = demo_pki(&dir.join("pki"))?;
    let mut world = World::new(&dir)?;
    let (accepted, cases) = run_cases(&mut world, &mut pki)?;
    let ok = cases.iter().all(|c| c.ok);
    let report = Report {
        dir: dir.display().to_string(),
        services: SERVICES
            .iter()
            .map(|(n, a)| (n.to_string(), a.name().to_string()))
            .collect(),
        accepted,
        cases,
        ok,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialise")
        );
    } else {
        print_report(&report, args.dir.is_some());
    }
    if ok {
        Ok(())
    } else {
        Err(CliError::rejected(
            "demo-failed",
            "a verdict was not the expected one (see the report)",
        ))
    }
}

/// Where the demo works: `dir` (created; refused unless new or empty) or a temporary
/// directory, removed when the returned guard is dropped.
fn work_dir(dir: Option<&Path>) -> Result<(Option<tempfile::TempDir>, PathBuf), CliError> {
    match dir {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(d)
                    .map_err(|e| CliError::io(d, e))?
                    .next()
                    .is_some()
            {
                return Err(CliError::usage(format!(
                    "{} is not empty; give a new or empty directory",
                    d.display()
                )));
            }
            std::fs::create_dir_all(d).map_err(|e| CliError::io(d, e))?;
            Ok((None, d.to_path_buf()))
        }
        None => {
            let t = tempfile::tempdir().map_err(|e| CliError::io(Path::new("<tmp>"), e))?;
            let p = t.path().to_path_buf();
            Ok((Some(t), p))
        }
    }
}

/// A new PKI in `pki_dir` with a certificate for each of [`SERVICES`].
fn demo_pki(pki_dir: &Path) -> Result<PkiDir, CliError> {
    let seed =
        Seed::from_json(r#"{"O": "waxseal demo", "OU": "Compute"}"#).map_err(|e| fail(&e))?;
    let mut pki = PkiDir::init(pki_dir, seed, KeyAlgorithm::P256, Lifetimes::default())
        .map_err(|e| fail(&e))?;
    for (name, alg) in SERVICES {
        let n = ServiceHost::parse(name).map_err(|e| fail(&e))?;
        pki.issue_with(&[n], false, false, Some(alg))
            .map_err(|e| fail(&e))?;
    }
    Ok(pki)
}

/// The services' configurations: the conductor takes requests from the compute nodes;
/// the scheduler also wants the conductor's hop and the payload's host claim to match
/// the signer.
fn service_configs() -> (Value, Value) {
    let trust = json!({"trust": ["pki/root-ca.crt"], "certs": ["pki/signing-ca.crt"], "crls": ["pki/crl.pem"]});
    let mut conductor = trust.clone();
    conductor["routing_policy"] = json!({"conductor": ["compute-*"]});
    conductor["nitpicky"] = json!(true);
    let mut scheduler = trust;
    scheduler["routing_policy"] =
        json!({"scheduler": ["compute-*"], "scheduler-admin": ["admin-*"]});
    scheduler["nitpicky"] = json!(true);
    scheduler["claims"] = json!([{"topic": "scheduler", "pointer": "/args/host", "field": "id"}]);
    scheduler["route"] = json!({"required": [CONDUCTOR], "max_hops": 2, "max_age_secs": 300});
    (conductor, scheduler)
}

/// The six requests, each with the verdict it must get; compute-node02 is revoked before
/// the last. Returns the accepted request and every case.
fn run_cases(
    world: &mut World,
    pki: &mut PkiDir,
) -> Result<(Option<OsloVerified>, Vec<Case>), CliError> {
    let mut cases = Vec::new();
    let accepted = record(
        &mut cases,
        "the request from compute-node01, via the conductor",
        "accepted",
        world.request("1-accepted.json", NODE1, NODE1, true, false, "scheduler")?,
    );
    record(
        &mut cases,
        "compute-node02 claiming to be compute-node01",
        "claim-mismatch",
        world.request(
            "2-impersonation.json",
            NODE2,
            NODE1,
            true,
            false,
            "scheduler",
        )?,
    );
    record(
        &mut cases,
        "payload changed after signing",
        "message-digest-mismatch",
        world.request("3-tampered.json", NODE1, NODE1, true, true, "scheduler")?,
    );
    record(
        &mut cases,
        "the conductor hop skipped",
        "required-hop-missing",
        world.request(
            "4-hop-skipped.json",
            NODE1,
            NODE1,
            false,
            false,
            "scheduler",
        )?,
    );
    record(
        &mut cases,
        "a topic the node may not use",
        "routing-policy-denied",
        world.request(
            "5-wrong-topic.json",
            NODE1,
            NODE1,
            true,
            false,
            "scheduler-admin",
        )?,
    );
    // The operator revokes the node that tried to impersonate another; its next request,
    // honest this time, is refused. (compute-node01 stays valid, so its messages can be
    // re-checked afterwards.)
    pki.revoke(NODE2, "keyCompromise").map_err(|e| fail(&e))?;
    world.reload()?;
    record(
        &mut cases,
        "compute-node02, revoked, asking for itself",
        "revoked",
        world.request("6-revoked.json", NODE2, NODE2, true, false, "scheduler")?,
    );
    Ok((accepted, cases))
}

/// Records verdict `v` of case `name` in `cases`, ok when it is `expected`; returns what
/// was accepted.
fn record(
    cases: &mut Vec<Case>,
    name: &'static str,
    expected: &'static str,
    v: Verdict,
) -> Option<OsloVerified> {
    let Verdict {
        by,
        topic,
        message,
        result,
    } = v;
    let (verdict, reason) = match &result {
        Ok(v) => (
            "accepted".to_string(),
            format!(
                "from {}",
                v.entity.as_ref().map(|e| e.id.as_str()).unwrap_or("?")
            ),
        ),
        Err(r) => (r.code.clone(), r.reason.clone()),
    };
    cases.push(Case {
        name,
        expected,
        checked_by: by,
        topic,
        message,
        ok: verdict == expected,
        verdict,
        reason,
    });
    result.ok()
}

fn print_report(r: &Report, kept: bool) {
    println!("waxseal demo: a signed oslo RPC request through a conductor to a scheduler");
    println!(
        "  in {}{}",
        r.dir,
        if kept {
            ""
        } else {
            " (temporary; --dir DIR keeps the PKI, configurations and messages)"
        }
    );
    println!("  PKI: root CA and signing CA (p256); service keys:");
    for (name, alg) in &r.services {
        println!("    {name:<32} {alg}");
    }
    println!();
    if let Some(v) = &r.accepted {
        println!("select_destinations, as the scheduler received it:");
        for h in &v.hops {
            let what = if h.index == 0 {
                "signed the request".to_string()
            } else {
                format!("countersigned ({})", h.role.as_deref().unwrap_or("hop"))
            };
            println!("  hop {}  {:<32} {what}", h.index, h.entity);
        }
        if let Some(e) = &v.entity {
            let fields: Vec<String> = e.fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("  origin entity: {} ({})", e.id, fields.join(", "));
        }
        for d in v.authorization.iter().flat_map(|a| a.decisions.iter()) {
            println!(
                "  {} {} [{}]",
                if d.allowed { "allowed:" } else { "DENIED: " },
                d.reason,
                d.code
            );
        }
        println!();
    }
    println!("verdicts:");
    for c in &r.cases {
        let mark = if c.ok { "ok  " } else { "FAIL" };
        let shown = match (c.verdict.as_str(), c.checked_by) {
            ("accepted", _) => "accepted".to_string(),
            (code, "scheduler") => format!("refused: {code}"),
            (code, by) => format!("refused: {code} (by the {by})"),
        };
        println!("  {mark} {:<50} {shown}", c.name);
        if c.verdict != "accepted" || !c.ok {
            println!("       {}", c.reason);
        }
        if !c.ok {
            println!("       expected: {}", c.expected);
        }
    }
    println!();
    let good = r.cases.iter().filter(|c| c.ok).count();
    println!(
        "{good}/{} verdicts as expected{}",
        r.cases.len(),
        if r.ok { "" } else { ": DEMO FAILED" }
    );
    if kept && let Some(c) = r.cases.first() {
        println!();
        println!("re-check a message (within 5 minutes: the route's max_age_secs is 300):");
        println!(
            "  waxseal msg validate --config {dir}/scheduler.json --topic {} --in {dir}/{}",
            c.topic,
            c.message,
            dir = r.dir
        );
    }
}
