//! One test per defect that review found in the core, named after what
//! broke. Each fails on the code before its fix.

mod common;
use agora_core::*;
use common::*;

fn site() -> SiteBuilder {
    SiteBuilder::new(4, 2, 4, 8).default_tenants()
}

fn handle(s: &mut Scheduler, now: Time, e: Event) -> Vec<Decision> {
    let mut out = Vec::new();
    s.handle(now, e, &mut out).unwrap();
    s.check_invariants().unwrap();
    out
}

fn job(s: &Scheduler, id: u64, tenant: &str, accels: u32) -> JobSpec {
    JobSpec::new(id, s.entitlements().lookup(tenant).unwrap(), accels)
}

#[test]
fn usage_is_charged_for_a_job_that_starts_and_ends_between_cycles() {
    let mut s = site().config(|c| c.half_life = 3600).build();
    let a1 = s.entitlements().lookup("a1").unwrap();
    {
        let j = job(&s, 1, "a1", 8);
        handle(&mut s, 0, Event::Submit(j));
    }
    handle(&mut s, 0, Event::Tick);
    // No tick between the start and the end: the hour must still be charged.
    handle(&mut s, 3600, Event::Finished(JobId(1)));
    let tau = 3600.0 / std::f64::consts::LN_2;
    let want = 8.0 * tau * (1.0 - (-3600.0 / tau).exp());
    assert!((s.usage(a1) - want).abs() < 1e-6 * want, "usage {} != {want}", s.usage(a1));
}

#[test]
fn several_victims_never_take_a_tenant_below_its_floor() {
    // a (floor 24) holds 32 in four standard jobs; b's reserved gang of 32
    // may take at most 8 of them, so it must not preempt at all.
    let mut s = SiteBuilder::new(4, 2, 4, 8)
        .tenant(TenantSpec::new("a", "funder", 1.0).floor(24).child(TenantSpec::new("a1", "project", 1.0)))
        .tenant(TenantSpec::new("b", "funder", 3.0).child(TenantSpec::new("b1", "project", 1.0)))
        .build();
    for id in 1..=4 {
        {
            let j = job(&s, id, "a1", 8).time_limit(10_000);
            handle(&mut s, 0, Event::Submit(j));
        }
    }
    {
        let j = job(&s, 5, "b1", 96).class(PriorityClass::Reserved).time_limit(10_000);
        handle(&mut s, 0, Event::Submit(j));
    }
    handle(&mut s, 0, Event::Tick);
    {
        let j = job(&s, 6, "b1", 32).class(PriorityClass::Reserved).time_limit(10_000);
        handle(&mut s, 10, Event::Submit(j));
    }
    let out = handle(&mut s, 10, Event::Tick);
    assert!(!out.iter().any(|d| matches!(d, Decision::Preempt { .. })), "preempted below a floor: {out:?}");
    let a = s.entitlements().lookup("a").unwrap();
    assert_eq!(s.allocated(a), 32);
}

#[test]
fn conservative_backfill_never_books_the_same_nodes_twice() {
    let mut s = site().config(|c| c.backfill = Backfill::Conservative(4)).build();
    {
        let j = job(&s, 1, "a1", 128).time_limit(100);
        handle(&mut s, 0, Event::Submit(j));
    }
    handle(&mut s, 0, Event::Tick);
    {
        let j = job(&s, 2, "a2", 128).time_limit(1000);
        handle(&mut s, 1, Event::Submit(j));
    }
    {
        let j = job(&s, 3, "b1", 128).time_limit(1000);
        handle(&mut s, 1, Event::Submit(j));
    }
    handle(&mut s, 1, Event::Tick);
    // Both need the whole site: only one of them can start at t=100.
    let starts: Vec<Time> = s.last_cycle().reservations.iter().map(|r| r.1).collect();
    assert_eq!(starts, vec![100], "reservations {:?}", s.last_cycle().reservations);
    let reserved = [2, 3].iter().filter(|&&j| s.explain(JobId(j)).unwrap().contains("reserved to start")).count();
    assert_eq!(reserved, 1);
}

#[test]
fn a_preemptor_gets_the_room_its_victims_free() {
    // b borrows the whole site; a reclaims 32. When the victims leave early,
    // the room is a's, not the next job's.
    let mut s = site().build();
    for id in 1..=4 {
        {
            let j = job(&s, id, "b1", 32).time_limit(10_000);
            handle(&mut s, 0, Event::Submit(j));
        }
    }
    handle(&mut s, 0, Event::Tick);
    {
        let j = job(&s, 5, "a1", 32).time_limit(10_000);
        handle(&mut s, 10, Event::Submit(j));
    }
    let out = handle(&mut s, 10, Event::Tick);
    let victim = out
        .iter()
        .find_map(|d| match d {
            Decision::Preempt { job, .. } => Some(*job),
            _ => None,
        })
        .expect("a preempts a borrower");
    // The victim checkpoints quickly and leaves; a b job arrives meanwhile.
    handle(&mut s, 20, Event::Finished(victim));
    {
        let j = job(&s, 6, "b2", 32).time_limit(10_000);
        handle(&mut s, 20, Event::Submit(j));
    }
    let out = handle(&mut s, 20, Event::Tick);
    let started: Vec<JobId> = out
        .iter()
        .filter_map(|d| match d {
            Decision::Start { job, .. } => Some(*job),
            _ => None,
        })
        .collect();
    assert_eq!(started, vec![JobId(5)], "{out:?}");
}

#[test]
fn a_refused_event_changes_nothing_not_even_the_clock() {
    let mut s = site().build();
    {
        let j = job(&s, 1, "a1", 8);
        handle(&mut s, 0, Event::Submit(j));
    }
    let before = s.state_digest();
    let mut out = Vec::new();
    assert!(s.handle(1000, Event::Cancel(JobId(9)), &mut out).is_err());
    let bad = job(&s, 2, "a1", 0);
    assert!(s.handle(1000, Event::Submit(bad), &mut out).is_err());
    assert!(s.handle(1000, Event::NodeRepaired(NodeId(0)), &mut out).is_err());
    assert_eq!(s.state_digest(), before);
    assert_eq!(s.now(), 0);
    // A later event at an earlier time than the refused one is fine.
    handle(&mut s, 500, Event::Tick);
}

#[test]
fn reasons_on_a_full_site_do_not_blame_held_nodes_and_say_when() {
    // One tenant: the full site holds nothing anyone may preempt.
    let mut s = SiteBuilder::new(4, 2, 4, 8)
        .tenant(TenantSpec::new("a", "funder", 1.0).child(TenantSpec::new("a1", "project", 1.0)))
        .config(|c| c.ordering = Ordering::Fifo)
        .build();
    {
        let j = job(&s, 1, "a1", 128).time_limit(600);
        handle(&mut s, 0, Event::Submit(j));
    }
    handle(&mut s, 0, Event::Tick);
    {
        let j = job(&s, 2, "a1", 64).time_limit(600);
        handle(&mut s, 0, Event::Submit(j));
    }
    {
        let j = job(&s, 3, "a1", 8).time_limit(600);
        handle(&mut s, 0, Event::Submit(j));
    }
    handle(&mut s, 0, Event::Tick);
    let why = s.explain(JobId(3)).unwrap();
    assert!(!why.contains("held"), "nothing is free, so nothing held is in its way: {why}");
    assert!(why.ends_with("expected to start within 10m00s"), "{why}");
}

#[test]
fn a_backfilled_job_reports_its_tightest_domain() {
    let mut s = site().config(|c| c.ordering = Ordering::Fifo).build();
    {
        let j = job(&s, 1, "a1", 120).time_limit(1000);
        handle(&mut s, 0, Event::Submit(j));
    }
    handle(&mut s, 0, Event::Tick);
    {
        let j = job(&s, 2, "a1", 128).time_limit(1000);
        handle(&mut s, 1, Event::Submit(j));
    }
    {
        let j = job(&s, 3, "b1", 8).time_limit(100);
        handle(&mut s, 1, Event::Submit(j));
    }
    let out = handle(&mut s, 1, Event::Tick);
    let scope = out.iter().find_map(|d| match d {
        Decision::Start { job: JobId(3), scope, backfilled: true, .. } => Some(*scope),
        _ => None,
    });
    assert_eq!(scope, Some(Scope::Block), "{out:?}");
}

#[test]
fn a_hot_spare_replacement_restarts_the_time_limit() {
    let mut s = SiteBuilder::new(4, 2, 4, 8).default_tenants().config(|c| c.spares_per_block = 1).build();
    {
        let j = job(&s, 1, "a1", 8).time_limit(1000);
        handle(&mut s, 0, Event::Submit(j));
    }
    handle(&mut s, 0, Event::Tick);
    let node = s.job(JobId(1)).unwrap().slots[0].node;
    let out = handle(&mut s, 500, Event::NodeFailed(node));
    assert!(matches!(out[..], [Decision::ReplaceNode { .. }]), "{out:?}");
    assert_eq!(s.job(JobId(1)).unwrap().end_bound, Some(1500));
}

#[test]
fn spares_of_the_pod_replace_a_failed_node_when_its_block_has_none_left() {
    let mut s = SiteBuilder::new(4, 2, 4, 8).default_tenants().config(|c| c.spares_per_block = 1).build();
    // Block 0 = nodes 0-3 (3 is its spare), block 1 = 4-7 (7 spare), pod 0.
    handle(&mut s, 0, Event::NodeFailed(NodeId(3)));
    {
        let j = job(&s, 1, "a1", 24).time_limit(1000);
        handle(&mut s, 0, Event::Submit(j));
    }
    handle(&mut s, 0, Event::Tick);
    let node = s.job(JobId(1)).unwrap().slots[0].node;
    assert!(node.0 < 3, "placed in block 0");
    let out = handle(&mut s, 10, Event::NodeFailed(node));
    assert!(matches!(out[..], [Decision::ReplaceNode { spare: NodeId(7), .. }]), "{out:?}");
    // A gang that must stay in one block is requeued instead.
    let mut s = SiteBuilder::new(4, 2, 4, 8).default_tenants().config(|c| c.spares_per_block = 1).build();
    handle(&mut s, 0, Event::NodeFailed(NodeId(3)));
    {
        let j = job(&s, 1, "a1", 24).within(Scope::Block).time_limit(1000);
        handle(&mut s, 0, Event::Submit(j));
    }
    handle(&mut s, 0, Event::Tick);
    let node = s.job(JobId(1)).unwrap().slots[0].node;
    let out = handle(&mut s, 10, Event::NodeFailed(node));
    assert!(matches!(out[..], [Decision::Requeue { .. }]), "{out:?}");
}

#[test]
fn a_crash_in_the_grace_period_takes_back_the_final_checkpoint() {
    // b1 borrows with a checkpointing job (every 100 s, 10 s to write, so
    // 200 s are saved by t=220); a1 reclaims at t=250. A crash before the
    // final write ends (t=260) keeps only the periodic checkpoint; a crash
    // after it keeps all 230 s of work.
    for (crash, saved) in [(255, 200), (265, 230)] {
        let mut s = SiteBuilder::new(1, 1, 2, 8).default_tenants().config(|c| c.preemption_grace = 60).build();
        {
            let j = job(&s, 1, "b1", 16).checkpoint(100, 10).time_limit(10_000);
            handle(&mut s, 0, Event::Submit(j));
        }
        handle(&mut s, 0, Event::Tick);
        {
            let j = job(&s, 2, "a1", 4).time_limit(10_000);
            handle(&mut s, 250, Event::Submit(j));
        }
        let out = handle(&mut s, 250, Event::Tick);
        assert!(out.iter().any(|d| matches!(d, Decision::Preempt { job: JobId(1), .. })), "{out:?}");
        let out = handle(&mut s, crash, Event::JobFailed(JobId(1)));
        match out[..] {
            [Decision::Requeue { resume_from, .. }] => assert_eq!(resume_from, saved, "crash at {crash}"),
            _ => panic!("{out:?}"),
        }
    }
}

#[test]
fn the_core_says_when_it_must_be_woken() {
    let mut s = site().build();
    assert_eq!(s.poll_timeout(), None);
    {
        let j = job(&s, 1, "b1", 128).time_limit(1000);
        handle(&mut s, 5, Event::Submit(j));
    }
    assert_eq!(s.poll_timeout(), Some(5), "a submission wants a cycle now");
    handle(&mut s, 5, Event::Tick);
    assert_eq!(s.poll_timeout(), Some(1005), "then the time limit");
    {
        let j = job(&s, 2, "a1", 32).time_limit(1000);
        handle(&mut s, 10, Event::Submit(j));
    }
    handle(&mut s, 10, Event::Tick);
    // a reclaims from the borrower: the grace period's end comes first.
    assert_eq!(s.poll_timeout(), Some(70));
}

#[test]
fn work_beyond_a_borrowing_limit_soaks_up_idle_capacity_and_gives_way() {
    let mut s = SiteBuilder::new(4, 2, 4, 8)
        .tenant(TenantSpec::new("a", "funder", 1.0).borrow_limit(0).child(TenantSpec::new("a1", "project", 1.0)))
        .tenant(TenantSpec::new("b", "funder", 1.0).child(TenantSpec::new("b1", "project", 1.0)))
        .build();
    for id in 1..=16 {
        {
            let j = job(&s, id, "a1", 8).time_limit(100_000);
            handle(&mut s, 0, Event::Submit(j));
        }
    }
    handle(&mut s, 0, Event::Tick);
    // The whole site works, half of it opportunistically.
    let a = s.entitlements().lookup("a").unwrap();
    assert_eq!(s.allocated(a), 128);
    // b's job within its entitlement starts within one grace period.
    {
        let j = job(&s, 100, "b1", 32).time_limit(100_000);
        handle(&mut s, 100, Event::Submit(j));
    }
    handle(&mut s, 100, Event::Tick);
    let out = handle(&mut s, 160, Event::Tick);
    assert!(out.iter().any(|d| matches!(d, Decision::Start { job: JobId(100), .. })), "{out:?}");
}

#[test]
fn a_job_requeued_when_its_grace_period_ends_gets_the_walks_reason_not_new() {
    // FIFO with preemption, no reservations: J (opportunistic) runs, K1
    // and K2 of J's shape wait ahead of J's requeued key (same submit time,
    // earlier sequence). When J's grace period ends, the walk looks at K1
    // and passes K2 over by K1's template; J, of the same shape, must not
    // be passed over too, or it would keep the `New` its requeue gave it.
    let build = |eager: bool| {
        let mut s = SiteBuilder::new(4, 2, 4, 8)
            .tenant(TenantSpec::new("a", "funder", 1.0).child(TenantSpec::new("a1", "project", 1.0)))
            .tenant(TenantSpec::new("b", "funder", 30.0).child(TenantSpec::new("b1", "project", 1.0)))
            .tenant(TenantSpec::new("c", "funder", 1.0).child(TenantSpec::new("c1", "project", 1.0)))
            .config(|c| {
                c.ordering = Ordering::Fifo;
                c.backfill = Backfill::Greedy;
            })
            .build();
        s.set_eager_looks(eager);
        s
    };
    let (mut lazy, mut eager) = (build(false), build(true));
    let opp = PriorityClass::Opportunistic;
    let mut events = vec![(0, Event::Submit(job(&lazy, 1, "a1", 8).class(opp).time_limit(10_000)))];
    for id in 2..=16 {
        events.push((0, Event::Submit(job(&lazy, id, "b1", 8).time_limit(10_000))));
    }
    for id in [17, 18] {
        events.push((0, Event::Submit(job(&lazy, id, "a1", 8).class(opp).time_limit(10_000))));
    }
    events.push((0, Event::Tick));
    // c1 is within its share (4 of 128); b1's 120 are within b's: only J
    // (opportunistic, and a is over its share) can make room.
    events.push((10, Event::Submit(job(&lazy, 19, "c1", 4).time_limit(10_000))));
    events.push((10, Event::Tick));
    events.push((70, Event::Tick));
    for (now, e) in events {
        let (a, b) = (handle(&mut lazy, now, e.clone()), handle(&mut eager, now, e));
        assert_eq!(a, b, "decisions at {now}");
    }
    let reason = |s: &Scheduler, id: u64| s.job(JobId(id)).and_then(|v| v.reason);
    assert_eq!(lazy.job(JobId(1)).map(|v| v.state), Some(JobState::Pending), "J was preempted");
    assert!(matches!(reason(&lazy, 1), Some(Reason::Resources { .. })), "{:?}", reason(&lazy, 1));
    for id in [1, 17, 18] {
        assert_eq!(reason(&lazy, id), reason(&eager, id), "job {id}");
    }
}
