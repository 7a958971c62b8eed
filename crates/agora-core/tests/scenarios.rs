//! Scenario tests: small sites, scripted events, the exact decisions expected.
//! Site layout used by most: 2 pods × 2 blocks × 4 nodes × 8 accelerators;
//! block 0 = nodes 0-3, block 1 = 4-7 (pod 0), block 2 = 8-11, block 3 = 12-15 (pod 1).

mod common;
use agora_core::{Backfill, Event, JobId, JobSpec, Ordering, TenantSpec};
use common::*;

fn site() -> SiteBuilder {
    SiteBuilder::new(4, 2, 4, 8).default_tenants()
}

fn check(s: SiteBuilder, script: &str, expected: &str) {
    let mut sched = s.build();
    let got = run(&mut sched, script);
    let want: Vec<&str> = expected.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert_eq!(got.lines().collect::<Vec<_>>(), want, "\n--- got ---\n{got}\n");
}

#[test]
fn gangs_take_the_tightest_domain_and_keep_blocks_whole() {
    check(
        site(),
        "
        submit 1 a1 8
        tick
        submit 2 a2 24       # the rest of block 0, not a fresh block
        tick
        submit 3 b1 40       # 5 nodes: no block has 5, pod 1 does
        tick
        submit 4 b2 56 within=pod   # 7 nodes in one pod: none left
        tick
        explain 4
    ",
        "
        start 1 8 on 0:8 (block)
        start 2 24 on 3:8,1:8,2:8 (block)
        start 3 40 on 8:8,9:8,10:8,11:8,12:8 (pod)
        4: needs 56 accelerators in one pod; reserved to start in 1h00m
    ",
    );
}

#[test]
fn required_constraints_that_can_never_hold_are_refused() {
    check(
        site(),
        "
        submit 1 a1 40 within=block
        submit 2 a1 72 within=pod
        submit 3 a1 40 prefer=block
        submit 4 a1 9 per_node=9
        tick
    ",
        "
        error: job 1: 40 accelerators (auto per node) can never fit in one block
        error: job 2: 72 accelerators (auto per node) can never fit in one pod
        error: job 4: 9 accelerators (9 per node) can never fit in the site
        start 3 40 on 0:8,1:8,2:8,3:8,4:8 (pod)
    ",
    );
}

#[test]
fn easy_backfill_lets_short_jobs_use_reserved_nodes_but_not_long_ones() {
    check(site(), "
        submit 1 a1 24 limit=1000
        submit 2 a1 32 limit=2000
        submit 3 b1 32 limit=3000
        submit 4 b1 32 limit=4000
        tick
        at 10
        submit 5 a2 64 within=pod limit=5000   # pod 0 frees at 2000
        submit 6 b2 8 limit=500                # ends at 510: may use the held node
        submit 7 b2 8 limit=5000               # would delay job 5
        tick
        explain 5
        explain 7
        at 510
        finish 6
        at 1000
        finish 1
        tick
        explain 7
        at 2000
        finish 2             # pod 1 is not reserved: job 7 backfills there
        tick
        at 3000
        finish 3             # pod 0 is whole again: job 5 starts as reserved
        tick
    ", "
        start 1 24 on 0:8,1:8,2:8 (block)
        start 3 32 on 4:8,5:8,6:8,7:8 (block)
        start 2 32 on 8:8,9:8,10:8,11:8 (block)
        start 4 32 on 12:8,13:8,14:8,15:8 (block)
        start 6 8 on 3:8 (block, backfilled)
        5: needs 64 accelerators in one pod; reserved to start in 49m50s
        7: needs 8 accelerators anywhere on the site; not enough are free; expected to start within 33m10s
        7: needs 8 accelerators; some of the free ones are held for job 5, which starts in 33m20s, and this job's time limit is too long to backfill; expected to start within 16m40s
        start 7 8 on 8:8 (block, backfilled)
        start 5 64 on 0:8,1:8,2:8,3:8,4:8,5:8,6:8,7:8 (pod)
    ");
}

#[test]
fn fair_share_interleaves_tenants_by_share() {
    // a and b have equal weight; a's jobs were submitted first but b gets
    // every other slot. Within a funder, projects alternate too, so a2's
    // job goes before a1's second; a1's second is then the first blocked
    // job and gets the (EASY) reservation.
    check(
        site(),
        "
        submit 1 a1 32
        submit 2 a1 32
        submit 3 a1 32
        submit 4 a2 32
        submit 5 b1 32
        submit 6 b1 32
        tick
        explain 2
        explain 3
    ",
        "
        start 1 32 on 0:8,1:8,2:8,3:8 (block)
        start 5 32 on 4:8,5:8,6:8,7:8 (block)
        start 4 32 on 8:8,9:8,10:8,11:8 (block)
        start 6 32 on 12:8,13:8,14:8,15:8 (block)
        2: needs 32 accelerators anywhere on the site; reserved to start in 1h00m
        3: needs 32 accelerators anywhere on the site; not enough are free; expected to start within 1h00m
    ",
    );
}

#[test]
fn an_entitled_job_reclaims_borrowed_capacity_after_a_checkpoint_grace() {
    // b fills the whole site with opportunistic work (a's half is idle and
    // lent out). When a comes back it preempts one gang, which checkpoints
    // within the 60 s grace and loses nothing.
    check(
        site(),
        "
        submit 1 b1 32 class=opportunistic ck=50/5
        submit 2 b1 32 class=opportunistic ck=50/5
        submit 3 b2 32 class=opportunistic
        submit 4 b2 32 class=opportunistic
        tick
        at 100
        submit 5 a1 32
        tick
        explain 5
        at 160
        tick
        explain 1
        state 5
    ",
        "
        start 1 32 on 0:8,1:8,2:8,3:8 (block)
        start 3 32 on 4:8,5:8,6:8,7:8 (block)
        start 2 32 on 8:8,9:8,10:8,11:8 (block)
        start 4 32 on 12:8,13:8,14:8,15:8 (block)
        preempt 1 for 5 until 160 (borrowing)
        5: preempting 1 lower-priority job(s); they checkpoint and leave within 1m00s
        requeue 1 (Preempted), resume from 95, lost 0
        start 5 32 on 0:8,1:8,2:8,3:8 (block)
        1: needs 32 accelerators anywhere on the site; reserved to start in 57m20s
        5: running
    ",
    );
}

#[test]
fn borrowers_are_not_preempted_by_jobs_beyond_their_own_entitlement() {
    // a1's nominal share is 32; a 64-accelerator standard job would borrow,
    // so it may not preempt; it waits with a reservation instead.
    check(
        site(),
        "
        submit 1 b1 32 class=opportunistic
        submit 2 b1 32 class=opportunistic
        submit 3 b2 32 class=opportunistic
        submit 4 b2 32 class=opportunistic
        tick
        submit 5 a1 64
        tick
        explain 5
    ",
        "
        start 1 32 on 0:8,1:8,2:8,3:8 (block)
        start 3 32 on 4:8,5:8,6:8,7:8 (block)
        start 2 32 on 8:8,9:8,10:8,11:8 (block)
        start 4 32 on 12:8,13:8,14:8,15:8 (block)
        5: needs 64 accelerators anywhere on the site; reserved to start in 1h00m
    ",
    );
}

#[test]
fn a_failed_node_is_replaced_by_a_hot_spare_then_the_gang_requeues_when_none_is_left() {
    // One spare per block: nodes 3, 7, 11, 15. Checkpoints every 100 s, 10 s each.
    check(
        site().config(|c| c.spares_per_block = 1),
        "
        submit 1 a1 24 within=block ck=100/10
        tick
        at 250
        fail 1       # 2 checkpoints done (200 s saved), 30 s lost
        at 300
        fail 2       # no spare left in block 0: requeue; 50 more seconds lost
        tick
        repair 1     # refills block 0's spare pool
        fail 3       # the used-up spare came back as a plain node; it runs nothing now
        state 1
    ",
        "
        start 1 24 on 0:8,1:8,2:8 (block)
        replace node 1 of 1 by spare 3, resume from 200
        requeue 1 (NodeFailure), resume from 200, lost 80
        start 1 24 on 4:8,5:8,6:8 (block, resume from 200)
        1: running
    ",
    );
}

#[test]
fn borrowing_and_lending_limits_hold_with_reasons() {
    let tenants = |s: SiteBuilder| {
        s.tenant(TenantSpec::new("a", "funder", 1.0).borrow_limit(0).child(TenantSpec::new("a1", "project", 1.0)))
            .tenant(TenantSpec::new("b", "funder", 1.0).lend_limit(32).child(TenantSpec::new("b1", "project", 1.0)))
    };
    // a may not exceed its nominal 64; b lends at most 32 of its idle 64.
    check(
        tenants(SiteBuilder::new(4, 2, 4, 8)),
        "
        submit 1 a1 64
        submit 2 a1 8
        submit 3 a1 8 limit=60
        tick
        explain 3
        at 10
        submit 4 b1 64      # b wants its share back: the opportunistic job goes
        tick
        at 60
        finish 3            # reached its limit: it was not preempted for nothing
        at 70
        tick
        explain 2
    ",
        "
        start 1 64 on 0:8,1:8,2:8,3:8,4:8,5:8,6:8,7:8 (pod)
        start 2 8 on 8:8 (block, opportunistic)
        start 3 8 on 11:8 (block, opportunistic)
        3: not pending
        preempt 2 for 4 until 70 (borrowing)
        requeue 2 (Preempted), resume from 0, lost 10
        start 4 64 on 8:8,9:8,10:8,11:8,12:8,13:8,14:8,15:8 (pod)
        2: a would go over its borrowing limit (64 of 64 accelerators in use); runs opportunistically when capacity is idle
    ",
    );
    let open = |s: SiteBuilder| {
        s.tenant(TenantSpec::new("a", "funder", 1.0).child(TenantSpec::new("a1", "project", 1.0)))
            .tenant(TenantSpec::new("b", "funder", 1.0).lend_limit(32).child(TenantSpec::new("b1", "project", 1.0)))
    };
    check(
        open(SiteBuilder::new(4, 2, 4, 8)),
        "
        submit 1 a1 64
        submit 2 a1 32
        submit 3 a1 8
        tick
        explain 3
        submit 4 b1 8
        tick
    ",
        "
        start 1 64 on 0:8,1:8,2:8,3:8,4:8,5:8,6:8,7:8 (pod)
        start 2 32 on 8:8,9:8,10:8,11:8 (block)
        start 3 8 on 12:8 (block, opportunistic)
        3: not pending
        start 4 8 on 15:8 (block)
    ",
    );
    // Without work conservation the kept capacity idles, and says why.
    check(
        open(SiteBuilder::new(4, 2, 4, 8)).config(|c| c.work_conserving = false),
        "
        submit 1 a1 64
        submit 2 a1 32
        submit 3 a1 8
        tick
        explain 3
    ",
        "
        start 1 64 on 0:8,1:8,2:8,3:8,4:8,5:8,6:8,7:8 (pod)
        start 2 32 on 8:8,9:8,10:8,11:8 (block)
        3: the idle capacity is kept for b by its lending limit (32 accelerators)
    ",
    );
}

#[test]
fn elastic_jobs_start_with_what_fits_within_their_range() {
    check(
        site(),
        "
        submit 1 a1 96
        tick
        submit 2 b1 64 elastic=16
        submit 3 b2 64 elastic=48
        tick
        explain 3
    ",
        "
        start 1 96 on 0:8,1:8,2:8,3:8,4:8,5:8,6:8,7:8,12:8,13:8,14:8,15:8 (site)
        start 2 32 on 8:8,9:8,10:8,11:8 (block)
        3: needs 48 accelerators anywhere on the site; reserved to start in 1h00m
    ",
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    check(
        site(),
        "
        submit 1 a1 0
        submit 1 nosuch 8
        submit 1 a 8            # a funder, not a project
        submit 2 a1 8 elastic=9
        submit 3 a1 8 limit=0
        submit 3 a1 8 limit=18446744073709551615
        submit 3 a1 8 ck=18446744073709551615/18446744073709551615
        submit 4 a1 8
        submit 4 a1 8
        finish 9
        finish 4
        fail 99
        repair 0
        tick
        fail 0
        fail 0
    ",
        "
        error: job 1: asks for 0 accelerators
        error: job 1: tenant 999 is not a project (a leaf of the entitlement tree)
        error: job 1: tenant 1 is not a project (a leaf of the entitlement tree)
        error: job 2: elastic range 9..8 is empty or starts at 0
        error: job 3: time limit 0 s is not between 1 s and 100 years
        error: job 3: time limit 18446744073709551615 s is not between 1 s and 100 years
        error: job 3: checkpoint interval, cost and restart must each be under 100 years
        error: job 4 already exists
        error: job 9 is not known (it may have finished already)
        error: job 4 is pending; a pending job cannot finish
        error: node 99 does not exist
        error: node 0 is already up
        start 4 8 on 0:8 (block)
        requeue 4 (NodeFailure), resume from 0, lost 0
        error: node 0 is already down
    ",
    );
}

#[test]
fn a_tenant_below_its_floor_goes_first() {
    // b has a floor of 16: its job goes before a's older ones.
    let s = SiteBuilder::new(4, 2, 4, 8)
        .tenant(TenantSpec::new("a", "funder", 3.0).child(TenantSpec::new("a1", "project", 1.0)))
        .tenant(TenantSpec::new("b", "funder", 1.0).floor(16).child(TenantSpec::new("b1", "project", 1.0)));
    check(
        s,
        "
        submit 1 a1 64
        submit 2 a1 64
        at 5
        submit 3 b1 16
        tick
    ",
        "
        start 3 16 on 0:8,1:8 (block)
        start 1 64 on 8:8,9:8,10:8,11:8,12:8,13:8,14:8,15:8 (pod)
    ",
    );
}

#[test]
fn regression_reserved_work_does_not_preempt_a_tenant_back_below_its_floor() {
    // a reclaims its floor of 16 from borrowers; b's reserved-class job
    // must not take it back (it waits for b's own work to end).
    let s = SiteBuilder::new(2, 2, 2, 8)
        .tenant(TenantSpec::new("a", "funder", 1.0).floor(16).child(TenantSpec::new("a1", "project", 1.0)))
        .tenant(TenantSpec::new("b", "funder", 1.0).child(TenantSpec::new("b1", "project", 1.0)));
    check(
        s,
        "
        submit 1 b1 16 class=opportunistic
        submit 2 b1 16 class=opportunistic
        tick
        at 10
        submit 3 a1 16
        submit 4 b1 16 class=reserved
        tick
        at 70
        tick
        at 200
        tick
        explain 4
    ",
        "
        start 1 16 on 0:8,1:8 (block)
        start 2 16 on 2:8,3:8 (block)
        preempt 1 for 3 until 70 (borrowing)
        requeue 1 (Preempted), resume from 0, lost 10
        start 3 16 on 0:8,1:8 (block)
        4: needs 16 accelerators anywhere on the site; reserved to start in 56m40s
    ",
    );
}

#[test]
fn strict_fifo_blocks_behind_the_head_and_greedy_does_not() {
    let script = "
        submit 1 a1 96
        tick
        submit 2 b1 64     # does not fit
        submit 3 b2 8      # would fit
        tick
        explain 3
    ";
    let fifo = |b| {
        site().config(move |c| {
            c.ordering = Ordering::Fifo;
            c.backfill = b;
            c.preemption = false;
        })
    };
    check(
        fifo(Backfill::Strict),
        script,
        "
        start 1 96 on 0:8,1:8,2:8,3:8,4:8,5:8,6:8,7:8,12:8,13:8,14:8,15:8 (site)
        3: waiting behind the first job in strict order
    ",
    );
    check(
        fifo(Backfill::Greedy),
        script,
        "
        start 1 96 on 0:8,1:8,2:8,3:8,4:8,5:8,6:8,7:8,12:8,13:8,14:8,15:8 (site)
        start 3 8 on 8:8 (block)
        3: not pending
    ",
    );
}

#[test]
fn shortest_remaining_first_orders_by_estimate() {
    let mut s = site()
        .config(|c| {
            c.ordering = Ordering::ShortestRemaining;
            c.preemption = false;
        })
        .build();
    let a1 = s.entitlements().lookup("a1").unwrap();
    let mut out = Vec::new();
    for (id, est) in [(1, 900), (2, 100), (3, 500)] {
        let mut j = JobSpec::new(id, a1, 128);
        j.estimate = Some(est);
        s.handle(0, Event::Submit(j), &mut out).unwrap();
    }
    s.handle(0, Event::Tick, &mut out).unwrap();
    s.handle(100, Event::Finished(JobId(2)), &mut out).unwrap();
    s.handle(100, Event::Tick, &mut out).unwrap();
    let order: Vec<String> = out.iter().map(render).map(|l| l[..7].to_string()).collect();
    assert_eq!(order, ["start 2", "start 3"]);
}

#[test]
fn las_lets_fresh_jobs_preempt_those_past_the_threshold() {
    // Threshold 1,000 accelerator-seconds: after 100 s, the 32-wide job 1
    // has 3,200 and drops to the second queue; fresh job 2 preempts it.
    let s = site().config(|c| {
        c.ordering = Ordering::Las { threshold: 1000.0 };
        c.backfill = Backfill::Easy;
    });
    check(
        s,
        "
        submit 1 a1 128 ck=50/5
        tick
        at 100
        submit 2 b1 32
        tick
        at 160
        tick
    ",
        "
        start 1 128 on 0:8,1:8,2:8,3:8,4:8,5:8,6:8,7:8,8:8,9:8,10:8,11:8,12:8,13:8,14:8,15:8 (site)
        preempt 1 for 2 until 160 (attained service)
        requeue 1 (Preempted), resume from 95, lost 0
        start 2 32 on 0:8,1:8,2:8,3:8 (block)
    ",
    );
}

#[test]
fn a_crashed_job_restarts_from_its_checkpoint_and_pays_its_restart_time() {
    // Checkpoint every 100 s (10 s each), 30 s to load one on restart.
    check(
        site(),
        "
        submit 1 a1 8 ck=100/10/30
        tick
        at 150        # 1 checkpoint (100 s) saved, 40 s lost
        crash 1
        tick
        at 200        # 30 s of the new run go to loading: 20 s more lost
        crash 1
        crash 1       # pending now: refused
        tick
    ",
        "
        start 1 8 on 0:8 (block)
        requeue 1 (JobFailure), resume from 100, lost 40
        start 1 8 on 3:8 (block, resume from 100)
        requeue 1 (JobFailure), resume from 100, lost 60
        error: job 1 is pending; only a running job can fail
        start 1 8 on 0:8 (block, resume from 100)
    ",
    );
}

#[test]
fn preemption_evicts_the_job_that_loses_least_work() {
    // Both of b's gangs borrow a's half. Job 1 started later but cannot
    // checkpoint (it would lose 50 s of work); job 2 started earlier and can
    // checkpoint within the grace period, so evicting it loses nothing.
    let s = SiteBuilder::new(2, 2, 2, 8)
        .tenant(TenantSpec::new("a", "funder", 1.0).child(TenantSpec::new("a1", "project", 1.0)))
        .tenant(TenantSpec::new("b", "funder", 1.0).child(TenantSpec::new("b1", "project", 1.0)));
    check(
        s,
        "
        submit 2 b1 16 class=opportunistic ck=50/5
        tick
        at 50
        submit 1 b1 16 class=opportunistic
        tick
        at 100
        submit 3 a1 16
        tick
    ",
        "
        start 2 16 on 0:8,1:8 (block)
        start 1 16 on 2:8,3:8 (block)
        preempt 2 for 3 until 160 (borrowing)
    ",
    );
}

#[test]
fn easy_per_programme_gives_each_programmes_first_blocked_job_a_reservation() {
    // Tenants at depth 2 are the programmes here (a1, a2, b1, b2). Under
    // EASY only the first blocked gang holds nodes; per programme, b2's gang
    // holds the nodes it waits for too, so no one else's long job takes them.
    let script = "
        submit 1 a1 64 limit=1000
        submit 2 b1 64 limit=2000
        tick
        submit 3 a2 64 within=pod
        submit 4 b2 64 within=pod
        tick
        explain 3
        explain 4
    ";
    let starts = "
        start 1 64 on 0:8,1:8,2:8,3:8,4:8,5:8,6:8,7:8 (pod)
        start 2 64 on 8:8,9:8,10:8,11:8,12:8,13:8,14:8,15:8 (pod)
    ";
    check(
        site(),
        script,
        &format!(
            "{starts}
            3: needs 64 accelerators in one pod; reserved to start in 16m40s
            4: needs 64 accelerators in one pod; not enough are free; expected to start within 33m20s"
        ),
    );
    check(
        site().config(|c| c.backfill = Backfill::PerProgramme(16)),
        script,
        &format!(
            "{starts}
            3: needs 64 accelerators in one pod; reserved to start in 16m40s
            4: needs 64 accelerators in one pod; reserved to start in 33m20s"
        ),
    );
}
