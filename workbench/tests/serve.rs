//! `workbench serve --listen`: the seeds' HTTP APIs against real components — /infer
//! alerts reach a real Alertmanager; a real Prometheus scrapes /metrics, evaluates
//! deploy/prometheus/rules.yml (PortScanDetected fires) and answers the dashboard's
//! queries for the metrics serve and notify export.

mod common;
mod stack_util;

use std::net::SocketAddr;
use std::time::Duration;

use common::{bin, missing};
use stack_util::*;

/// A fresh --model-dir per server (the online model must not land in the source tree).
fn model_dir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "wb-serve-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn start_serve(extra: &[&str]) -> (Proc, SocketAddr) {
    let mut c = bin();
    c.args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
    if !extra.contains(&"--model-dir") {
        c.arg("--model-dir").arg(model_dir());
    }
    let mut p = Proc::spawn("workbench serve", c);
    let a = p.listening(Duration::from_secs(20));
    (p, a)
}

#[test]
fn detect_answers_the_seed_003_example() {
    let (_p, a) = start_serve(&[]);
    let (code, body) = post_json(
        a,
        "/detect",
        r#"{"packets_per_second":1200,"bytes_per_second":1500000,"unique_ips":30,"unique_ports":50,"tcp_ratio":0.95,"syn_packets":800}"#,
    )
    .unwrap();
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["threat_detected"], true);
    // The rules name the attacks first; the online ensemble (synthetic benign baseline)
    // may add its own ml_*_risk level after them.
    let types = v["threat_types"].as_array().unwrap();
    assert_eq!(
        &types[..2],
        &[serde_json::json!("port_scan"), serde_json::json!("ddos")]
    );
    assert!(
        types[2..].iter().all(|t| t
            .as_str()
            .is_some_and(|t| t.starts_with("ml_") && t.ends_with("_risk"))),
        "{body}"
    );
    let c = v["confidence"].as_f64().unwrap();
    assert!(c > 0.5 && c <= 1.0, "{c}");
    let (code, body) = post_json(
        a,
        "/detect",
        r#"{"packets_per_second":10,"bytes_per_second":1000,"unique_ips":2,"unique_ports":3,"tcp_ratio":0.5,"syn_packets":1}"#,
    )
    .unwrap();
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["threat_detected"], false);
    assert_eq!(v["threat_types"], serde_json::json!([]));
    let (_, m) = get(a, "/metrics").unwrap();
    assert!(
        m.contains(r#"ml_detector_threats_total{threat_type="port_scan",confidence_level="#),
        "{m}"
    );
    assert!(m.contains("ml_detector_processing_seconds_count 2"), "{m}");
    // Without --prometheus, /detect/prom says what is missing.
    let (code, body) = get(a, "/detect/prom").unwrap();
    assert_eq!(code, 503);
    assert!(body.contains("--prometheus"), "{body}");
}

#[test]
fn bad_requests_get_4xx_with_a_message_and_the_token_guards_writes() {
    let (_p, a) = start_serve(&["--token", "s3cret", "--max-body", "2048"]);
    let auth = [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer s3cret"),
    ];
    let ok = br#"{"items":[{"src":"10.0.0.5","conn_rate":0.1,"uniq_dports":1}]}"#;
    // No token, wrong token.
    assert_eq!(
        post_json(a, "/infer", std::str::from_utf8(ok).unwrap())
            .unwrap()
            .0,
        401
    );
    let wrong = [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer nope"),
    ];
    assert_eq!(http("POST", a, "/infer", &wrong, ok).unwrap().0, 401);
    let (code, body) = http("POST", a, "/infer", &auth, ok).unwrap();
    assert_eq!((code, body.as_str()), (200, r#"{"alerts":0,"ok":true}"#));
    for (bad, want) in [
        (&b"{\"items\": ["[..], "invalid JSON body"),
        (
            br#"{"items":[{"src":"x","conn_rate":"fast","uniq_dports":1}]}"#,
            "invalid type",
        ),
        (
            br#"{"items":[{"src":"x","uniq_dports":1}]}"#,
            "missing field `conn_rate`",
        ),
        (br#"{"packets":1}"#, "missing field `items`"),
    ] {
        let (code, body) = http("POST", a, "/infer", &auth, bad).unwrap();
        assert_eq!(code, 400, "{body}");
        assert!(body.contains(want), "{body}");
    }
    let (code, body) = http("POST", a, "/detect", &auth, br#"{"packets_per_second":1}"#).unwrap();
    assert_eq!(code, 400);
    assert!(body.contains("missing field"), "{body}");
    let huge = format!(r#"{{"items":[],"pad":"{}"}}"#, "x".repeat(5000));
    assert_eq!(
        http("POST", a, "/infer", &auth, huge.as_bytes()).unwrap().0,
        413
    );
    // GET endpoints need no token.
    assert_eq!(get(a, "/health").unwrap().0, 200);
}

#[test]
fn infer_alerts_reach_alertmanager_and_prometheus_evaluates_the_rules() {
    if !have("prometheus-alertmanager") || !have("prometheus") {
        missing("prometheus-alertmanager and prometheus (Debian packages)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_am, am) = alertmanager(
        dir.path(),
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    );
    let url = format!("http://{am}/api/v2/alerts");
    let (_p, a) = start_serve(&["--alertmanager", &url]);
    let (code, body) = post_json(
        a,
        "/infer",
        r#"{"items":[{"src":"10.0.0.5","conn_rate":12.5,"uniq_dports":8},{"src":"10.0.0.6","conn_rate":0.1,"uniq_dports":1}]}"#,
    )
    .unwrap();
    assert_eq!((code, body.as_str()), (200, r#"{"alerts":1,"ok":true}"#));
    let got = wait_for(Duration::from_secs(10), || {
        let (_, b) = get(am, "/api/v2/alerts").ok()?;
        let v: serde_json::Value = serde_json::from_str(&b).ok()?;
        v.as_array()?
            .iter()
            .find(|x| x["labels"]["src"] == "10.0.0.5")
            .cloned()
    })
    .expect("the alert reached Alertmanager");
    assert_eq!(got["labels"]["alertname"], "AnomalyScoreHigh");
    assert_eq!(got["annotations"]["summary"], "score=1.00");
    assert_eq!(got["annotations"]["detail"], "rate=12.5, uniq_dports=8");

    // A real Prometheus with the shipped rules scrapes serve every second.
    let pdir = dir.path().join("prom");
    std::fs::create_dir_all(&pdir).unwrap();
    std::fs::copy(
        root().join("deploy/prometheus/rules.yml"),
        pdir.join("rules.yml"),
    )
    .unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [\"{}\"]\nscrape_configs:\n  - job_name: workbench-serve\n    static_configs:\n      - targets: [\"{a}\"]\n",
        pdir.join("rules.yml").display()
    );
    let (_prom, pa) = prometheus(&pdir, &cfg);
    // Let Prometheus see the series absent first, then the port scan appear.
    wait_for(Duration::from_secs(15), || {
        (!prom_query(pa, "up{job=\"workbench-serve\"} == 1").is_empty()).then_some(())
    })
    .expect("prometheus scrapes serve");
    std::thread::sleep(Duration::from_secs(2));
    let scan = r#"{"packets_per_second":500,"bytes_per_second":30000,"unique_ips":2,"unique_ports":80,"tcp_ratio":1.0,"syn_packets":400}"#;
    assert_eq!(post_json(a, "/detect", scan).unwrap().0, 200);
    let firing = wait_for(Duration::from_secs(20), || {
        let (_, b) = get(pa, "/api/v1/alerts").ok()?;
        let v: serde_json::Value = serde_json::from_str(&b).ok()?;
        let names: Vec<String> = v["data"]["alerts"]
            .as_array()?
            .iter()
            .filter(|x| x["state"] == "firing")
            .filter_map(|x| x["labels"]["alertname"].as_str().map(str::to_string))
            .collect();
        (names.contains(&"PortScanDetected".to_string())
            && names.contains(&"ThreatDetected".to_string()))
        .then_some(names)
    });
    assert!(
        firing.is_some(),
        "PortScanDetected/ThreatDetected did not fire"
    );

    // The dashboard's queries over serve's metrics return data.
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/grafana/dashboards/workbench.json")).unwrap(),
    )
    .unwrap();
    let exprs: Vec<String> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().clone())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .filter(|e| e.contains("infer_latency") || e.contains("ml_detector"))
        .collect();
    assert!(exprs.len() >= 6, "{exprs:?}");
    // rate() needs two samples with traffic in between: keep the endpoints busy.
    for _ in 0..3 {
        post_json(
            a,
            "/infer",
            r#"{"items":[{"src":"10.0.0.7","conn_rate":1,"uniq_dports":1}]}"#,
        )
        .unwrap();
        post_json(a, "/detect", scan).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
    }
    for e in &exprs {
        let r = wait_for(Duration::from_secs(15), || {
            let r = prom_query(pa, e);
            (!r.is_empty()).then_some(r)
        });
        assert!(r.is_some(), "dashboard query returned no data: {e}");
    }
}

/// Every PromQL expression of the Grafana dashboard returns data from a real
/// Prometheus scraping a running stack: `live --simulate` (sensor metrics, issue 5),
/// `serve` (seed APIs) and `notify` fed by a real Alertmanager.
#[test]
fn every_dashboard_query_returns_data() {
    if !have("prometheus-alertmanager") || !have("prometheus") {
        missing("prometheus-alertmanager and prometheus (Debian packages)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut n = bin();
    n.args(["notify", "--listen", "127.0.0.1:0"]);
    let mut notify = Proc::spawn("notify", n);
    let na = notify.listening(Duration::from_secs(20));
    let shipped =
        std::fs::read_to_string(root().join("deploy/alertmanager/alertmanager.yml")).unwrap();
    let (_am, am) = alertmanager(
        dir.path(),
        &shipped
            .replace("http://notify:8080/alert", &format!("http://{na}/alert"))
            .replace("group_wait: 1s", "group_wait: 100ms"),
    );
    let (_serve, sa) = start_serve(&["--alertmanager", &format!("http://{am}/api/v2/alerts")]);
    let mut l = bin();
    l.args([
        "live",
        "--simulate",
        "portscan",
        "--seconds",
        "120",
        "--listen",
        "127.0.0.1:0",
    ]);
    let live = Proc::spawn("live", l);
    let la: SocketAddr = wait_for(Duration::from_secs(30), || {
        let e = live.stderr();
        let i = e.find("endpoints http://")? + "endpoints http://".len();
        e[i..].split('/').next()?.parse().ok()
    })
    .unwrap_or_else(|| panic!("live did not start: {}", live.stderr()));
    let pdir = dir.path().join("prom");
    std::fs::create_dir_all(&pdir).unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: workbench-sensor\n    static_configs:\n      - targets: [\"{la}\"]\n  - job_name: workbench-serve\n    static_configs:\n      - targets: [\"{sa}\"]\n  - job_name: workbench-notify\n    static_configs:\n      - targets: [\"{na}\"]\n"
    );
    let (_prom, pa) = prometheus(&pdir, &cfg);
    let scan = r#"{"packets_per_second":500,"bytes_per_second":30000,"unique_ips":2,"unique_ports":80,"tcp_ratio":1.0,"syn_packets":400}"#;
    for i in 0..6 {
        let body =
            format!(r#"{{"items":[{{"src":"10.0.0.{i}","conn_rate":12.5,"uniq_dports":8}}]}}"#);
        post_json(sa, "/infer", &body).unwrap();
        post_json(sa, "/detect", scan).unwrap();
        std::thread::sleep(Duration::from_millis(1000));
    }
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/grafana/dashboards/workbench.json")).unwrap(),
    )
    .unwrap();
    let mut empty = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let e = t["expr"].as_str().unwrap();
            let r = wait_for(Duration::from_secs(20), || {
                let r = prom_query(pa, e);
                (!r.is_empty()).then_some(r)
            });
            if r.is_none() {
                empty.push(format!("{}: {e}", p["title"]));
            }
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard queries without data: {empty:#?}"
    );

    // GET /detect/prom: the sensor's current values through this Prometheus.
    let (_s2, s2) = start_serve(&["--prometheus", &format!("http://{pa}")]);
    let (code, body) = get(s2, "/detect/prom").unwrap();
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let pps = v["features"]["packets_per_second"].as_f64().unwrap();
    let want = prom_query(pa, "sum(ebpf_packets_per_second)")[0]["value"][1]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert!(pps > 0.0, "{body}");
    // Same metric, queried a moment apart: within the live rate's variation.
    assert!((pps - want).abs() <= want.max(1.0), "{pps} vs {want}");
    assert!(
        v["threat_detected"].is_boolean() && v["threat_types"].is_array(),
        "{body}"
    );
}

const BENIGN: &str = r#"{"packets_per_second":90,"bytes_per_second":60000,"unique_ips":6,"unique_ports":5,"tcp_ratio":0.8,"syn_packets":4}"#;
const ODD: &str = r#"{"packets_per_second":90000,"bytes_per_second":900,"unique_ips":900,"unique_ports":3000,"tcp_ratio":0.01,"syn_packets":2}"#;

fn field(body: &str, k: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v[k].clone()
}

/// Seed 003's unsupervised loop: POST /train retrains on the /detect samples and
/// persists a model that loads; after training on benign samples an anomalous sample
/// scores above a benign one (ml_*_risk threat, metric counted); /detect keeps
/// answering while /train runs.
#[test]
fn train_persists_a_model_and_the_ensemble_ranks_anomalies_higher() {
    let dir = model_dir();
    let d = dir.to_str().unwrap().to_string();
    let (_p, a) = start_serve(&["--model-dir", &d, "--retrain-interval", "0"]);
    // The synthetic baseline exists before any training.
    let path = dir.join("model.json");
    let baseline = std::fs::read(&path).expect("baseline model written at start");
    // Benign samples with a little variety, as a quiet network would send.
    for i in 0..150 {
        let b = format!(
            r#"{{"packets_per_second":{},"bytes_per_second":{},"unique_ips":{},"unique_ports":{},"tcp_ratio":{},"syn_packets":{}}}"#,
            80 + i % 23,
            50_000 + (i * 977) % 20_000,
            4 + i % 5,
            3 + i % 6,
            0.75 + (i % 10) as f64 / 100.0,
            2 + i % 4
        );
        let (code, body) = post_json(a, "/detect", &b).unwrap();
        assert_eq!(code, 200, "{body}");
    }
    // /detect during /train: every request answers 200.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let hammer = std::thread::spawn(move || {
        let mut n = 0;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            let (code, body) = post_json(a, "/detect", BENIGN).unwrap();
            assert_eq!(code, 200, "{body}");
            n += 1;
        }
        n
    });
    let (code, body) = post_json(a, "/train", "").unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let during = hammer.join().expect("a /detect failed during /train");
    eprintln!("train: {body}; {during} /detect answered meanwhile");
    assert_eq!(code, 200, "{body}");
    assert_eq!(field(&body, "status"), "success");
    assert!(field(&body, "samples").as_u64().unwrap() >= 150);
    assert_eq!(field(&body, "baseline_used"), false);
    assert!(during > 0);
    // The persisted model is valid JSON, changed, and loads.
    let text = std::fs::read(&path).unwrap();
    assert_ne!(text, baseline, "the model file was not replaced");
    serde_json::from_slice::<serde_json::Value>(&text).expect("model.json is JSON");
    let m = workbench::model::unsupervised::UnsupervisedModel::load(&path).expect("loads");
    assert_eq!(m.feature_names.len(), 6);
    let (_, b) = post_json(a, "/detect", BENIGN).unwrap();
    let (_, o) = post_json(a, "/detect", ODD).unwrap();
    eprintln!("benign: {b}\nodd: {o}");
    let (mb, mo) = (
        field(&b, "ml_score").as_f64().unwrap(),
        field(&o, "ml_score").as_f64().unwrap(),
    );
    assert!(mo > mb, "anomalous {mo} not above benign {mb}");
    assert!(field(&o, "confidence").as_f64().unwrap() > field(&b, "confidence").as_f64().unwrap());
    let types = field(&o, "threat_types");
    assert!(
        types.as_array().unwrap().iter().any(|t| t
            .as_str()
            .is_some_and(|t| t.starts_with("ml_") && t.ends_with("_risk"))),
        "{o}"
    );
    let (_, metrics) = get(a, "/metrics").unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ml_detector_threats_total{") && l.contains("_risk\"")),
        "{metrics}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The background loop retrains on its own (--retrain-interval) and reloads a
/// persisted model at the next start.
#[test]
fn background_retraining_replaces_the_model() {
    let dir = model_dir();
    let d = dir.to_str().unwrap().to_string();
    let path = dir.join("model.json");
    {
        let (_p, a) = start_serve(&["--model-dir", &d, "--retrain-interval", "1"]);
        let first = std::fs::read(&path).unwrap();
        for _ in 0..30 {
            post_json(a, "/detect", BENIGN).unwrap();
        }
        let changed = wait_for(Duration::from_secs(20), || {
            (std::fs::read(&path).ok()? != first).then_some(())
        });
        assert!(changed.is_some(), "no retraining within 20 s");
    }
    let saved = std::fs::read(&path).unwrap();
    let (_p, a) = start_serve(&["--model-dir", &d, "--retrain-interval", "0"]);
    let (code, _) = post_json(a, "/detect", BENIGN).unwrap();
    assert_eq!(code, 200);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        saved,
        "a restart must load, not refit"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
