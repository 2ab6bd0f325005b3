//! Unit tests of [`super::aggregate`] and the report tally.

use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn flow(src: &str, dst: &str, start: f64, end: f64, attack: Option<&str>) -> LabeledFlow {
    LabeledFlow {
        src: ip(src),
        dst: ip(dst),
        start_ts: start,
        end_ts: end,
        attack: attack.map(AttackType::parse),
        raw_label: attack.unwrap_or("benign").to_string(),
    }
}

fn key(e: &Episode) -> (String, String, String, f64, f64) {
    (
        e.attack_type.to_string(),
        e.attacker.to_string(),
        e.victim.to_string(),
        e.start_ts,
        e.end_ts,
    )
}

fn keys(eps: &[Episode]) -> Vec<(String, String, String, f64, f64)> {
    eps.iter().map(key).collect()
}

#[test]
fn defaults() {
    let o = AggregateOptions::default();
    assert_eq!((o.max_gap_s, o.sweep_min_victims), (60.0, 8));
}

#[test]
fn gaps_up_to_max_merge_and_longer_gaps_split() {
    let flows = [
        flow("10.0.0.1", "10.0.0.9", 100.0, 110.0, Some("ssh-patator")),
        flow("10.0.0.1", "10.0.0.9", 170.0, 175.0, Some("ssh-patator")), // gap 60: merged
        flow("10.0.0.1", "10.0.0.9", 236.0, 240.0, Some("ssh-patator")), // gap 61: new
        flow("10.0.0.1", "10.0.0.9", 120.0, 121.0, None),                // benign: ignored
        flow("10.0.0.1", "10.0.0.9", 150.0, 160.0, Some("DDoS")),        // other type
    ];
    let eps = aggregate(&flows, &AggregateOptions::default());
    let s = |a: &str, v: &str| (a.to_string(), v.to_string());
    let got: Vec<_> = keys(&eps);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        (got[0].0.as_str(), got[0].3, got[0].4),
        ("brute_force", 100.0, 175.0)
    );
    assert_eq!(
        (got[1].0.as_str(), got[1].3, got[1].4),
        ("ddos", 150.0, 160.0)
    );
    assert_eq!(
        (got[2].0.as_str(), got[2].3, got[2].4),
        ("brute_force", 236.0, 240.0)
    );
    assert_eq!(s(&got[0].1, &got[0].2), s("10.0.0.1", "10.0.0.9"));
    assert!(eps[0].detail.contains("flows=2"), "{}", eps[0].detail);
    // A long flow bridges later ones: the gap is measured from the furthest end so far.
    let flows = [
        flow("10.0.0.1", "10.0.0.9", 0.0, 500.0, Some("x")),
        flow("10.0.0.1", "10.0.0.9", 10.0, 11.0, Some("x")),
        flow("10.0.0.1", "10.0.0.9", 540.0, 541.0, Some("x")),
    ];
    let eps = aggregate(&flows, &AggregateOptions::default());
    assert_eq!(keys(&eps).len(), 1);
    assert_eq!((eps[0].start_ts, eps[0].end_ts), (0.0, 541.0));
}

#[test]
fn many_victims_make_a_sweep_with_victim_any() {
    let mut flows: Vec<_> = (1..=8)
        .map(|i| {
            let t = f64::from(i) * 5.0;
            flow(
                "10.0.0.1",
                &format!("10.0.1.{i}"),
                t,
                t + 1.0,
                Some("portscan"),
            )
        })
        .collect();
    let eps = aggregate(&flows, &AggregateOptions::default());
    assert_eq!(
        keys(&eps),
        [("port_scan".into(), "10.0.0.1".into(), "*".into(), 5.0, 41.0)]
    );
    assert!(eps[0].detail.contains("victims=8"), "{}", eps[0].detail);
    // Seven victims stay separate episodes, one per victim.
    flows.pop();
    let eps = aggregate(&flows, &AggregateOptions::default());
    assert_eq!(eps.len(), 7);
    assert!(eps.iter().all(|e| e.victim != HostSpec::Any));
    let opts = AggregateOptions {
        max_gap_s: 60.0,
        sweep_min_victims: 3,
    };
    assert_eq!(aggregate(&flows, &opts).len(), 1);
}

#[test]
fn per_victim_episodes_are_split_by_their_own_gaps() {
    // Victim A at 0 and 200; B in between keeps the group together, but A's own bursts
    // are 200 s apart, so A gets two episodes.
    let flows = [
        flow("10.0.0.1", "10.0.0.2", 0.0, 1.0, Some("x")),
        flow("10.0.0.1", "10.0.0.3", 50.0, 150.0, Some("x")),
        flow("10.0.0.1", "10.0.0.2", 200.0, 201.0, Some("x")),
    ];
    let got = keys(&aggregate(&flows, &AggregateOptions::default()));
    let want = [
        ("x", "10.0.0.2", 0.0, 1.0),
        ("x", "10.0.0.3", 50.0, 150.0),
        ("x", "10.0.0.2", 200.0, 201.0),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|&(t, v, s, e)| (t.to_string(), "10.0.0.1".to_string(), v.to_string(), s, e))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn output_is_deterministic_and_sorted() {
    let mut flows = Vec::new();
    for i in 0..40u32 {
        let a = format!("10.0.{}.1", i % 3);
        let v = format!("10.9.0.{}", i % 5);
        let t = f64::from(i * 37 % 400);
        let ty = ["ddos", "portscan", "bot"][(i % 3) as usize];
        flows.push(flow(&a, &v, t, t + 3.0, Some(ty)));
    }
    let first = aggregate(&flows, &AggregateOptions::default());
    for shift in 1..flows.len() {
        flows.rotate_left(1);
        assert_eq!(
            aggregate(&flows, &AggregateOptions::default()),
            first,
            "rotation {shift}"
        );
    }
    flows.reverse();
    assert_eq!(aggregate(&flows, &AggregateOptions::default()), first);
    assert!(first.windows(2).all(|w| w[0].start_ts <= w[1].start_ts));
}

#[test]
fn odd_inputs_do_not_panic() {
    let flows = [
        flow("10.0.0.1", "10.0.0.2", f64::NAN, 1.0, Some("x")),
        flow("10.0.0.1", "10.0.0.2", 5.0, f64::INFINITY, Some("x")),
        flow("10.0.0.1", "10.0.0.2", 10.0, 3.0, Some("x")), // end before start
    ];
    for opts in [
        AggregateOptions::default(),
        AggregateOptions {
            max_gap_s: f64::NAN,
            sweep_min_victims: 0,
        },
        AggregateOptions {
            max_gap_s: -5.0,
            sweep_min_victims: usize::MAX,
        },
    ] {
        let eps = aggregate(&flows, &opts);
        assert_eq!(eps.len(), 1);
        assert_eq!((eps[0].start_ts, eps[0].end_ts), (10.0, 10.0));
    }
    assert!(aggregate(&[], &AggregateOptions::default()).is_empty());
}

#[test]
fn tally_accounts_for_every_row() {
    let mut t = Tally::new(std::path::Path::new("f.csv"));
    for _ in 0..3 {
        t.row();
        t.label("a");
    }
    t.flow(&flow("1.1.1.1", "2.2.2.2", 0.0, 1.0, Some("x")));
    t.unlabeled();
    t.skip(7, row_err("ts", "bad", "zz"));
    t.row();
    t.label("b");
    t.skip(9, row_err("ts", "bad", "yy"));
    let r = t.finish();
    assert_eq!(
        (r.rows, r.attack_rows, r.unlabeled_rows, r.skipped_rows()),
        (4, 1, 1, 2)
    );
    assert_eq!(r.skipped, [("ts: bad".to_string(), 2)]);
    assert_eq!(r.first_error.as_deref(), Some("f.csv:7: ts: bad (`zz`)"));
    assert_eq!(
        (r.label_count("a"), r.label_count("b"), r.label_count("c")),
        (3, 1, 0)
    );
}
