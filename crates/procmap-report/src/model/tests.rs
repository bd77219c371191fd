use super::*;

fn bar(worker: u32, start: f64, secs: f32, status: Status) -> Bar {
    Bar { start, line: 1, secs, estimated: false, worker, status }
}

#[test]
fn a_replacement_worker_takes_the_lane_of_the_one_it_replaced() {
    // Workers 0 and 1 from the start; 0 dies at 5, 2 replaces it at 5.1;
    // 3 starts while 1 and 2 are alive.
    let spans = [(0.0, 5.0), (0.0, 9.0), (5.1, 9.0), (6.0, 7.0)];
    let (lanes, count) = pack_lanes(&spans);
    assert_eq!(lanes, [0, 1, 0, 2]);
    assert_eq!(count, 3);
    // A resumed run's workers reuse the lanes of the run before.
    let (lanes, count) = pack_lanes(&[(0.0, 1.0), (0.0, 1.0), (2.0, 3.0), (2.0, 3.0)]);
    assert_eq!((lanes, count), (vec![0, 1, 0, 1], 2));
    assert_eq!(pack_lanes(&[]), (vec![], 0));
}

#[test]
fn buckets_cover_the_span_and_clamp_the_ends() {
    let b = Buckets::new(10.0, 5);
    assert_eq!(b.width, 2.0);
    assert_eq!([b.of(0.0), b.of(1.99), b.of(2.0), b.of(10.0), b.of(99.0), b.of(-1.0)], [0, 0, 1, 4, 4, 0]);
    let mut into = vec![0.0; 5];
    b.spread(1.0, 5.0, &mut into);
    assert_eq!(into, [0.5, 1.0, 0.5, 0.0, 0.0]);
    assert!(Buckets::new(0.0, 10).width > 0.0, "a run of one instant still has buckets");
}

#[test]
fn throughput_counts_jobs_where_they_end_and_busy_workers_where_they_run() {
    let b = Buckets::new(4.0, 4);
    let bars = [
        bar(0, 0.0, 1.0, Status::Ok),
        bar(0, 1.0, 1.0, Status::Ok),
        bar(1, 0.0, 3.0, Status::Ok),
        bar(1, 3.0, 0.5, Status::Error),
    ];
    assert_eq!(throughput(&bars, b), [0.0, 1.0, 1.0, 2.0]);
    assert_eq!(busy_workers(&bars, b), [2.0, 2.0, 1.0, 0.5]);
}

#[test]
fn a_cell_takes_the_worst_status_among_its_jobs() {
    let b = Buckets::new(4.0, 2);
    let bars = [
        bar(0, 0.0, 0.5, Status::Ok),
        bar(0, 0.5, 0.5, Status::Crashed),
        bar(0, 1.0, 0.5, Status::Ok),
        bar(1, 2.5, 1.0, Status::Timeout),
        bar(2, 0.0, 1.0, Status::Error),
    ];
    // Workers 0 and 2 share lane 0 (one after the other in time here does
    // not matter: the caller decides lanes), worker 1 is lane 1.
    let cells = cells(&bars, &[0, 1, 0], 2, b);
    assert_eq!(cells.len(), 2);
    assert_eq!((cells[0].lane, cells[0].bucket, cells[0].status, cells[0].jobs), (0, 0, Status::Crashed, 4));
    assert_eq!(cells[0].busy, 1.0, "capped at a whole bucket");
    assert_eq!((cells[1].lane, cells[1].bucket, cells[1].status), (1, 1, Status::Timeout));
    assert_eq!(cells[1].busy, 0.5);
}

#[test]
fn failures_group_by_their_text_without_numbers() {
    assert_eq!(error_key("ran 1012ms (limit 1s); worker 4242"), "ran #ms (limit #s); worker #");
    let mut f = Failures::default();
    f.add(Status::Timeout, "timed out: ran 1012ms; worker 41 was killed", "j", 3);
    f.add(Status::Timeout, "timed out: ran 1009ms; worker 58 was killed", "j", 9);
    f.add(Status::Error, "bad number", "j", 4);
    f.add(Status::Crashed, "bad number", "j", 5);
    let groups = f.into_sorted();
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[0].count, 2);
    assert_eq!(groups[0].lines, [("j".to_owned(), 3), ("j".to_owned(), 9)]);
    assert_eq!(groups[0].example, "timed out: ran 1012ms; worker 41 was killed");
}

#[test]
fn failure_groups_and_their_lines_are_capped() {
    let mut f = Failures::default();
    for i in 0..(MAX_GROUPS as u64 + 10) {
        f.add(Status::Error, &format!("error {}", "x".repeat(i as usize % 300 + 1)), "j", i);
    }
    for i in 0..100 {
        f.add(Status::Error, "same", "j", i);
    }
    let groups = f.into_sorted();
    assert!(groups.len() <= MAX_GROUPS + 1, "{}", groups.len());
    assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), MAX_GROUPS as u64 + 110);
    assert!(groups.iter().all(|g| g.lines.len() <= LINES_PER_GROUP));
}

#[test]
fn the_slowest_jobs_are_kept_whatever_their_order() {
    let mut s = Slowest::new(3);
    for (i, ms) in [5.0, 1.0, 9.0, 7.0, 2.0, 8.0, 3.0].into_iter().enumerate() {
        if s.wants(ms) {
            s.add(Slow {
                ms,
                what: format!("job {i}"),
                source: "j".into(),
                line: i as u64,
                status: Status::Ok,
            });
        }
    }
    let kept: Vec<f64> = s.into_sorted().iter().map(|s| s.ms).collect();
    assert_eq!(kept, [9.0, 8.0, 7.0]);
    assert!(!Slowest::new(0).wants(1.0));
}
