//! The alert path and the live pipeline in process, on a clock the test moves and a
//! delivery that records: no Alertmanager, no sockets, no sleeping for lifecycle times.
//! (tests/alertmanager_live.rs proves the same path against a real Alertmanager.)

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use workbench::alert::{
    AlertConfig, AlertPipeline, Clock, Deliver, DeliveryOptions, ManualClock, RecordingDeliver,
};
use workbench::engine::{WindowConfig, F, N_BASE};
use workbench::eval::{RulesScorer, Score, ThreatType};
use workbench::http::{LiveStatus, Metrics};
use workbench::labels::HostSpec;
use workbench::live::engine::{run_engine, Shared};
use workbench::live::source::{replay_paced, FirstPacketWatch, Msg, SourceCounters};
use workbench::pipeline::{Driver, SimSource, Speed};
use workbench::simulate::{Scenario, SimConfig, Simulator};

fn config() -> AlertConfig {
    AlertConfig {
        threshold: 0.5,
        resend_interval: Duration::from_secs(30),
        resolve_after: Duration::from_secs(10),
        resolved_keep: Duration::from_secs(300),
        instance: "test".into(),
        generator_url: "http://127.0.0.1/stats".into(),
    }
}

fn options(clock: Arc<ManualClock>) -> DeliveryOptions {
    DeliveryOptions {
        console: false,
        keep_firing_on_exit: false,
        grace: Duration::from_millis(200),
        metrics: Arc::new(Metrics::new()),
        status: Arc::new(Mutex::new(LiveStatus::default())),
        clock,
    }
}

/// Waits (up to 5 s of real time, yielding to the delivery loop) until `f` holds.
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

fn scan_row() -> Vec<f64> {
    let mut r = vec![0.0; N_BASE];
    r[F::UniquePorts as usize] = 100.0;
    r[F::PacketsPerSecond as usize] = 400.0;
    r
}

#[test]
fn fires_delivers_waits_out_an_outage_resolves_on_the_manual_clock() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let clock = Arc::new(ManualClock::new());
        let deliver = RecordingDeliver::default();
        let pipeline =
            AlertPipeline::spawn(config(), Some(deliver.clone()), options(clock.clone()));
        let alerter = pipeline.alerter();
        let host: IpAddr = "10.0.0.5".parse().unwrap();
        let row = scan_row();
        let score = Score {
            value: 0.95,
            threat: None,
        };
        // A window over the threshold: typed by the seed rules, delivered at once.
        let s = alerter.observe(host, score, &row, 1_000);
        assert!(s.alerting && s.new_alert);
        assert_eq!(s.threat, ThreatType::PortScan);
        let below = alerter.observe(
            host,
            Score {
                value: 0.1,
                threat: None,
            },
            &row,
            1_500,
        );
        assert!(!below.alerting && !below.new_alert);
        assert!(
            eventually(|| deliver.delivered().len() >= 1).await,
            "the firing alert was not delivered"
        );
        let first = deliver.delivered()[0].clone();
        assert_eq!(first.labels["src"], "10.0.0.5");
        assert_eq!(first.labels["threat_type"], "port_scan");
        assert_eq!(first.labels["severity"], "critical");
        assert!(!first.is_resolved());

        // Alertmanager down: the resolution waits in the queue...
        deliver.down.store(true, Ordering::Relaxed);
        clock.advance(Duration::from_secs(11));
        pipeline.tick();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(deliver.delivered().len(), 1, "nothing goes out while down");
        assert!(deliver.stats().posts_failed.load(Ordering::Relaxed) > 0);
        // ... and goes out when it is back.
        deliver.down.store(false, Ordering::Relaxed);
        pipeline.tick();
        assert!(
            eventually(|| deliver.delivered().len() >= 2).await,
            "the resolution was not delivered"
        );
        let resolved = deliver.delivered()[1].clone();
        assert_eq!(resolved.key(), first.key());
        assert_eq!(resolved.starts_at, first.starts_at);
        let ends = resolved.ends_at.clone().unwrap();
        assert_eq!(
            ends,
            workbench::alert::rfc3339(clock.wall()),
            "resolved at the manual clock's time"
        );

        let (_, undelivered, events) = pipeline.finish().await;
        assert_eq!(undelivered, 0);
        let states: Vec<&str> = events.iter().map(|e| e.state).collect();
        assert_eq!(states, ["firing", "resolved"]);
        assert!(events.iter().all(|e| e.delivered_s.is_some()));
        // Lifecycle times are the manual clock's: the resolution 11 s after the firing.
        assert!((events[1].emitted_s - events[0].emitted_s - 11.0).abs() < 1e-9);
    });
}

#[test]
fn the_live_engine_thread_alerts_on_a_simulated_scanner_in_process() {
    let sim = SimConfig {
        scenario: Scenario::Portscan,
        seconds: 8.0,
        seed: 4,
        ..SimConfig::default()
    };
    let attacker = match Simulator::new(&sim).episodes()[0].attacker {
        HostSpec::Addr(a) => a,
        HostSpec::Any => panic!("no attacker"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let clock = Arc::new(ManualClock::new());
        let deliver = RecordingDeliver::default();
        let pipeline =
            AlertPipeline::spawn(config(), Some(deliver.clone()), options(clock.clone()));
        let metrics = Arc::new(Metrics::new());
        let counters = Arc::new(SourceCounters::default());
        let shared = Shared {
            metrics: metrics.clone(),
            status: Arc::new(Mutex::new(LiveStatus::default())),
            alerter: pipeline.alerter(),
            counters: counters.clone(),
        };
        let (tx, rx) = mpsc::sync_channel::<Msg>(64);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let source = std::thread::spawn({
            let counters = counters.clone();
            move || {
                replay_paced(
                    vec![("sim".into(), Box::new(SimSource::new(&sim)), false)],
                    Speed::Max,
                    tx,
                    stop,
                    counters,
                    Arc::new(FirstPacketWatch::default()),
                    false,
                )
            }
        });
        let engine = std::thread::spawn(move || {
            let driver = Driver::new(WindowConfig::default()).unwrap();
            let rules = RulesScorer;
            run_engine(rx, driver, &rules, shared, None, None)
        });
        let outcome = tokio::task::spawn_blocking(move || {
            source.join().unwrap();
            engine.join().unwrap()
        })
        .await
        .unwrap();
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        assert!(outcome.threat_rows > 0);
        assert!(
            eventually(|| deliver.delivered().iter().any(|a| {
                a.labels["src"] == attacker.to_string() && a.labels["threat_type"] == "port_scan"
            }))
            .await,
            "no port_scan alert for {attacker}: {:?}",
            deliver.delivered()
        );
        let (_, undelivered, events) = pipeline.finish().await;
        assert_eq!(undelivered, 0);
        assert!(events.iter().any(|e| e.state == "firing"));
        // The source's counters and the engine's agree on what was fed.
        assert_eq!(
            counters.delivered.load(Ordering::Relaxed),
            outcome.engine.packets
        );
    });
}
