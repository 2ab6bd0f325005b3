//! deploy/: the Prometheus config and rules pass promtool (and the rules' unit tests
//! prove they fire), the Alertmanager config passes amtool, the Grafana dashboard is
//! valid JSON whose panels use the datasource the provisioning defines, and the compose
//! and Kubernetes YAML parse and carry the fields the stack depends on. Docker and a
//! cluster are not available here: deploy/README.md says what was not run.

mod common;
mod stack_util;

use std::path::PathBuf;
use std::process::Command;

use common::missing;
use serde_yaml_ng::Value;

fn deploy() -> PathBuf {
    stack_util::root().join("deploy")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn yaml(path: &str) -> Vec<Value> {
    let p = deploy().join(path);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| {
            serde::Deserialize::deserialize(d)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", p.display()))
        })
        .collect()
}

#[test]
fn prometheus_config_and_rules_pass_promtool_and_the_rules_fire() {
    if !stack_util::have("promtool") {
        missing("promtool (Debian package prometheus)");
        return;
    }
    // The shipped config names the rule file by its in-container path; check it with
    // the path rewritten to a temp copy of the rules.
    let dir = tempfile::tempdir().unwrap();
    let cfg = std::fs::read_to_string(deploy().join("prometheus/prometheus.yml")).unwrap();
    assert!(
        cfg.contains("scrape_interval: 1s"),
        "seed 000 wants a 1 s scrape"
    );
    assert!(cfg.contains("/etc/prometheus/rules.yml"));
    std::fs::copy(
        deploy().join("prometheus/rules.yml"),
        dir.path().join("rules.yml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        cfg.replace("/etc/prometheus/rules.yml", "rules.yml"),
    )
    .unwrap();
    let out = run_ok(
        Command::new("promtool")
            .args(["check", "config"])
            .arg(dir.path().join("prometheus.yml")),
    );
    assert!(out.contains("1 rule files found"), "{out}");
    let out = run_ok(
        Command::new("promtool")
            .args(["check", "rules"])
            .arg(deploy().join("prometheus/rules.yml")),
    );
    assert!(out.contains("SUCCESS: 4 rules found"), "{out}");
    for name in ["ThreatDetected", "PortScanDetected"] {
        let rules = std::fs::read_to_string(deploy().join("prometheus/rules.yml")).unwrap();
        assert!(
            rules.contains(&format!("alert: {name}")),
            "rule {name} missing"
        );
    }
    // The unit tests: each case fails if a rule stops firing or fires when it should not.
    let out = run_ok(
        Command::new("promtool")
            .args(["test", "rules", "rules_test.yml"])
            .current_dir(deploy().join("prometheus")),
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn promtool_unit_tests_can_fail() {
    if !stack_util::have("promtool") {
        missing("promtool (Debian package prometheus)");
        return;
    }
    // The same unit tests against rules whose threshold never fires must fail: the
    // test above is not vacuous.
    let dir = tempfile::tempdir().unwrap();
    let rules = std::fs::read_to_string(deploy().join("prometheus/rules.yml")).unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        rules.replace(") > 0", ") > 1e9"),
    )
    .unwrap();
    std::fs::copy(
        deploy().join("prometheus/rules_test.yml"),
        dir.path().join("rules_test.yml"),
    )
    .unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules", "rules_test.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "broken rules passed the unit tests");
}

#[test]
fn alertmanager_config_routes_everything_to_notify() {
    if !stack_util::have("amtool") {
        missing("amtool (Debian package prometheus-alertmanager)");
        return;
    }
    let path = deploy().join("alertmanager/alertmanager.yml");
    run_ok(Command::new("amtool").arg("check-config").arg(&path));
    let v = &yaml("alertmanager/alertmanager.yml")[0];
    let receiver = v["route"]["receiver"].as_str().unwrap();
    let rx = v["receivers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|r| r["name"].as_str() == Some(receiver))
        .expect("the route's receiver is defined");
    assert_eq!(
        rx["webhook_configs"][0]["url"].as_str(),
        Some("http://notify:8080/alert")
    );
    // No sub-routes: everything goes to the notifier (seed 000).
    assert!(v["route"].get("routes").is_none());
}

#[test]
fn grafana_dashboard_and_provisioning_are_consistent() {
    let ds = &yaml("grafana/provisioning/datasources/datasource.yml")[0];
    let prom = ds["datasources"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|d| d["type"].as_str() == Some("prometheus"))
        .expect("a Prometheus datasource");
    let uid = prom["uid"].as_str().unwrap();
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(deploy().join("grafana/dashboards/workbench.json")).unwrap(),
    )
    .expect("dashboard JSON");
    let panels = dash["panels"].as_array().unwrap();
    let mut exprs = Vec::new();
    for p in panels {
        assert_eq!(
            p["datasource"]["uid"].as_str(),
            Some(uid),
            "panel {}",
            p["title"]
        );
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    // Both seeds' panels are there.
    for needle in [
        "histogram_quantile(0.95, sum by (le) (rate(infer_latency_ms_bucket[1m])))",
        "sum(increase(notifier_alerts_total[1m]))",
        "fe_window_build_seconds_sum",
        "ebpf_packets_per_second",
        "ebpf_bytes_per_second",
        "topk(5, sum by (threat_type) (increase(ml_detector_threats_total[30m])))",
        "sum by (threat_type) (increase(ml_detector_threats_total[15m]))",
        "ml_detector_processing_seconds_bucket",
    ] {
        assert!(
            exprs.iter().any(|e| e.contains(needle)),
            "no panel queries {needle}"
        );
    }
    let types: Vec<&str> = panels.iter().filter_map(|p| p["type"].as_str()).collect();
    for t in ["gauge", "table", "heatmap", "timeseries"] {
        assert!(types.contains(&t), "no {t} panel");
    }
    // Every expression is valid PromQL (promtool parses it as a rule).
    if stack_util::have("promtool") {
        let dir = tempfile::tempdir().unwrap();
        let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
        for (i, e) in exprs.iter().enumerate() {
            rules.push_str(&format!(
                "      - record: dashboard:expr{i}\n        expr: {}\n",
                serde_json::to_string(e).unwrap()
            ));
        }
        std::fs::write(dir.path().join("d.yml"), rules).unwrap();
        run_ok(
            Command::new("promtool")
                .args(["check", "rules"])
                .arg(dir.path().join("d.yml")),
        );
    } else {
        missing("promtool (Debian package prometheus)");
    }
}

#[test]
fn compose_file_has_the_whole_stack() {
    let c = &yaml("docker-compose.yml")[0];
    let services = c["services"].as_mapping().unwrap();
    for s in [
        "nats",
        "sensor",
        "serve",
        "notify",
        "prometheus",
        "alertmanager",
        "grafana",
        "loki",
        "promtail",
    ] {
        assert!(services.contains_key(s), "compose has no {s} service");
    }
    // YAML merge keys (`<<: *workbench`) resolve through serde_yaml_ng's apply_merge.
    let mut c = c.clone();
    c.apply_merge().unwrap();
    let sensor = &c["services"]["sensor"];
    let caps: Vec<&str> = sensor["cap_add"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for cap in ["BPF", "NET_ADMIN", "PERFMON"] {
        assert!(caps.contains(&cap), "sensor lacks {cap}");
    }
    assert!(
        sensor.get("privileged").is_none(),
        "sensor must not be privileged"
    );
    assert_eq!(
        sensor["build"]["dockerfile"].as_str(),
        Some("deploy/Dockerfile")
    );
    let serve_cmd: Vec<&str> = c["services"]["serve"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(serve_cmd[0], "serve");
    assert!(serve_cmd.contains(&"--nats"));
    assert_eq!(
        c["services"]["nats"]["command"][0].as_str(),
        Some("-js"),
        "nats needs JetStream"
    );
    // Every config file the compose file mounts exists.
    for (_, svc) in c["services"].as_mapping().unwrap() {
        for v in svc["volumes"].as_sequence().into_iter().flatten() {
            let v = v.as_str().unwrap();
            if let Some(src) = v.strip_prefix("./") {
                let src = src.split(':').next().unwrap();
                assert!(deploy().join(src).exists(), "compose mounts missing {src}");
            }
        }
    }
}

#[test]
fn dockerfile_is_multi_stage_debian_12_with_clang() {
    let d = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = d.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].contains("bookworm") && froms[0].contains(" AS build"));
    assert!(froms[1].contains("debian:12"));
    assert!(d.contains("clang"));
    assert!(d.contains("COPY --from=build"));
}

fn k8s_docs() -> Vec<Value> {
    let mut docs = Vec::new();
    let kust = &yaml("k8s/kustomization.yaml")[0];
    for r in kust["resources"].as_sequence().unwrap() {
        docs.extend(yaml(&format!("k8s/{}", r.as_str().unwrap())));
    }
    docs
}

#[test]
fn kubernetes_manifests_parse_and_the_sensor_is_unprivileged() {
    let docs = k8s_docs();
    for d in &docs {
        assert!(
            d["apiVersion"].is_string() && d["kind"].is_string(),
            "{d:?}"
        );
        assert!(d["metadata"]["name"].is_string(), "{d:?}");
    }
    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| {
                d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name)
            })
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let ds = find("DaemonSet", "workbench-sensor");
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(spec["hostNetwork"].as_bool(), Some(true));
    let c = &spec["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["privileged"].as_bool(), Some(false));
    let add: Vec<&str> = sc["capabilities"]["add"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for cap in ["BPF", "NET_ADMIN", "PERFMON"] {
        assert!(add.contains(&cap), "sensor lacks CAP_{cap}");
    }
    assert!(c["args"][0].as_str() == Some("live"));
    // Selectors match template labels (a typo here is the classic silent failure).
    for d in docs
        .iter()
        .filter(|d| d["spec"]["selector"]["matchLabels"].is_mapping())
    {
        let sel = d["spec"]["selector"]["matchLabels"].as_mapping().unwrap();
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        for (k, v) in sel {
            assert_eq!(
                &labels[k],
                v,
                "{} selector does not match",
                d["metadata"]["name"].as_str().unwrap()
            );
        }
    }
    // Every Service selects some workload.
    for svc in docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some("Service"))
    {
        let sel = svc["spec"]["selector"].as_mapping().unwrap();
        assert!(
            docs.iter().any(|d| {
                let l = &d["spec"]["template"]["metadata"]["labels"];
                sel.iter().all(|(k, v)| &l[k] == v)
            }),
            "service {} selects nothing",
            svc["metadata"]["name"].as_str().unwrap()
        );
    }
    let scorer = find("StatefulSet", "workbench-serve");
    assert_eq!(
        scorer["spec"]["template"]["spec"]["containers"][0]["args"][0].as_str(),
        Some("serve")
    );
    // ConfigMaps referenced by envFrom exist.
    for d in &docs {
        for c in d["spec"]["template"]["spec"]["containers"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            for e in c["envFrom"].as_sequence().into_iter().flatten() {
                let name = e["configMapRef"]["name"].as_str().unwrap();
                find("ConfigMap", name);
            }
        }
    }
}
