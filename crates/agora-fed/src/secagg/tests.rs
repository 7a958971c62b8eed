//! SecAgg+ end to end, in memory: every byte the server receives goes
//! through `Server::receive`, so the transcript is exactly what it sees.

use super::msg::ToServer;
use super::*;
use crate::prg::Prg;

/// What happens to site `u`'s reply at `stage` (1 keys, 2 shares, 3 masked, 4 reveal).
type Hook<'a> = &'a mut dyn FnMut(u8, SiteIdx, &mut Vec<u8>) -> Fate;

#[derive(PartialEq)]
enum Fate {
    Deliver,
    Drop,
    /// Deliver twice (a replay).
    Twice,
}

struct Run {
    result: Result<Aggregate, ServerError>,
    /// (stage, site, bytes) of every message the server received.
    transcript: Vec<(u8, SiteIdx, Vec<u8>)>,
    rejected: Vec<ServerError>,
    client_errors: Vec<(SiteIdx, String)>,
}

fn run(params: Params, inputs: &[Vec<u32>], seed: u64, hook: Hook) -> Run {
    let mut rng = Prg::seeded(seed);
    let (mut server, setup) = Server::new(params, &mut rng).unwrap();
    let mut clients: Vec<Option<Client>> = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| Some(Client::new(x.clone(), Prg::seeded(seed * 1000 + i as u64 + 1))))
        .collect();
    let mut out =
        Run { result: Err(ServerError::Finished), transcript: vec![], rejected: vec![], client_errors: vec![] };
    let mut inbox = setup;
    for stage in 1..=4u8 {
        for (u, msg) in inbox {
            let Some(c) = clients[u as usize].as_mut() else { continue };
            let mut reply = match c.handle(&msg) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    out.client_errors.push((u, e.to_string()));
                    clients[u as usize] = None;
                    continue;
                }
            };
            let fate = hook(stage, u, &mut reply);
            if fate == Fate::Drop {
                clients[u as usize] = None; // vanished: never heard from again
                continue;
            }
            for _ in 0..(if fate == Fate::Twice { 2 } else { 1 }) {
                out.transcript.push((stage, u, reply.clone()));
                if let Err(e) = server.receive(u, &reply) {
                    out.rejected.push(e);
                }
            }
        }
        match server.advance() {
            Ok(Step::Send(m)) => inbox = m,
            Ok(Step::Done(a)) => {
                out.result = Ok(a);
                return out;
            }
            Err(e) => {
                out.result = Err(e);
                return out;
            }
        }
    }
    match server.advance() {
        Ok(Step::Done(a)) => out.result = Ok(a),
        Ok(Step::Send(_)) => panic!("protocol did not finish after 4 stages"),
        Err(e) => out.result = Err(e),
    }
    out
}

fn inputs(n: usize, len: usize, seed: u64) -> Vec<Vec<u32>> {
    let mut r = Prg::seeded(seed);
    (0..n).map(|_| (0..len).map(|_| r.below(1000) as u32).collect()).collect()
}

fn plain_sum(inputs: &[Vec<u32>], who: &[SiteIdx]) -> Vec<u32> {
    let mut s = vec![0u32; inputs[0].len()];
    for &u in who {
        s.iter_mut().zip(&inputs[u as usize]).for_each(|(a, b)| *a = a.wrapping_add(*b));
    }
    s
}

fn deliver(_: u8, _: SiteIdx, _: &mut Vec<u8>) -> Fate {
    Fate::Deliver
}

#[test]
fn sum_without_dropouts_equals_plain_sum_complete_and_sparse_graphs() {
    for (n, seed) in [(4u32, 1u64), (10, 2), (40, 3)] {
        let p = Params::for_sites(n, 257);
        assert!(n < 40 || p.k < n - 1, "40 sites use a sparse graph");
        let x = inputs(n as usize, 257, seed);
        let r = run(p, &x, seed, &mut deliver);
        let a = r.result.unwrap();
        assert_eq!(a.survivors.len(), n as usize);
        assert_eq!(a.sum, plain_sum(&x, &a.survivors));
    }
}

#[test]
fn graph_is_k_regular_and_symmetric() {
    let p = Params::for_sites(1000, 1);
    assert_eq!(p.k, 30);
    let mut perm: Vec<SiteIdx> = (0..1000).collect();
    Prg::seeded(5).shuffle(&mut perm);
    let nb = neighbours(&p, &perm);
    for (u, list) in nb.iter().enumerate() {
        assert_eq!(list.len(), 30);
        for v in list {
            assert!(nb[*v as usize].contains(&(u as u32)));
        }
    }
}

#[test]
fn secagg_on_equals_off_up_to_fixed_point_error() {
    let n = 12;
    let mut r = Prg::seeded(9);
    let xs: Vec<Vec<f64>> = (0..n).map(|_| (0..100).map(|_| 3.0 * r.normal()).collect()).collect();
    let fp = FixedPoint::for_sum(n, 20.0);
    let enc: Vec<Vec<u32>> = xs.iter().map(|x| fp.encode(x)).collect();
    let a = run(Params::for_sites(n as u32, 100), &enc, 4, &mut deliver).result.unwrap();
    let got = fp.decode(&a.sum);
    for j in 0..100 {
        let want: f64 = xs.iter().map(|x| x[j]).sum();
        assert!((got[j] - want).abs() <= fp.sum_error(n), "{j}: {} vs {want}", got[j]);
    }
}

#[test]
fn thirty_percent_drop_after_sharing_keys() {
    let n = 20;
    let x = inputs(n, 64, 7);
    let gone = [1u32, 4, 6, 9, 13, 17];
    let r = run(Params::for_sites(n as u32, 64), &x, 7, &mut |stage, u, _| {
        if stage == 3 && gone.contains(&u) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let a = r.result.unwrap();
    let want: Vec<u32> = (0..n as u32).filter(|u| !gone.contains(u)).collect();
    assert_eq!(a.survivors, want);
    assert_eq!(a.dropped, gone.to_vec());
    assert_eq!(a.sum, plain_sum(&x, &want));
}

#[test]
fn thirty_percent_drop_after_masked_upload() {
    let n = 20;
    let x = inputs(n, 64, 8);
    let gone = [0u32, 3, 5, 10, 11, 19];
    let r = run(Params::for_sites(n as u32, 64), &x, 8, &mut |stage, u, _| {
        if stage == 4 && gone.contains(&u) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let a = r.result.unwrap();
    // Their inputs arrived: they are in the sum, their masks removed by the others.
    assert_eq!(a.survivors.len(), n);
    assert_eq!(a.sum, plain_sum(&x, &a.survivors));
}

#[test]
fn dropouts_at_every_stage_at_once() {
    let n = 30;
    let x = inputs(n, 50, 11);
    let r = run(Params::for_sites(n as u32, 50), &x, 11, &mut |stage, u, _| match (stage, u % 10) {
        (1, 0) | (3, 2) | (4, 3) => Fate::Drop,
        _ => Fate::Deliver,
    });
    let a = r.result.unwrap();
    let want: Vec<u32> = (0..n as u32).filter(|u| ![0, 2].contains(&(u % 10))).collect();
    assert_eq!(a.survivors, want);
    assert_eq!(a.sum, plain_sum(&x, &want));
}

#[test]
fn below_threshold_the_round_is_abandoned_cleanly() {
    let n = 10;
    let x = inputs(n, 16, 12);
    let p = Params::for_sites(n as u32, 16); // complete graph, t = 5
    for stage in 1..=4u8 {
        let r = run(p.clone(), &x, 12, &mut |s, u, _| if s == stage && u < 7 { Fate::Drop } else { Fate::Deliver });
        match r.result {
            Err(ServerError::Abandoned(msg)) => assert!(!msg.is_empty()),
            other => panic!("stage {stage}: expected abandonment, got {other:?}"),
        }
    }
}

/// Chi-square statistic of the top byte of each word over 256 buckets.
fn chi_square_top_byte(v: &[u32]) -> f64 {
    let mut counts = [0f64; 256];
    for w in v {
        counts[(w >> 24) as usize] += 1.0;
    }
    let e = v.len() as f64 / 256.0;
    counts.iter().map(|c| (c - e) * (c - e) / e).sum()
}

#[test]
fn the_server_transcript_reveals_no_single_update() {
    let n = 8;
    let len = 20_000;
    // Very non-uniform inputs: small non-negative values.
    let x = inputs(n, len, 13);
    let p = Params::for_sites(n as u32, len as u32);
    let t = p.t;
    let r = run(p.clone(), &x, 13, &mut deliver);
    let a = r.result.as_ref().unwrap();
    assert_eq!(a.sum, plain_sum(&x, &a.survivors));
    // 1. Each masked vector the server received is indistinguishable from
    //    uniform (chi-square, 255 degrees of freedom: 0.1% critical value 330.5),
    //    while the same test flags the raw input at once.
    let session: [u8; 32] = r.transcript[0].2[6..38].try_into().unwrap();
    for (stage, u, bytes) in &r.transcript {
        if *stage != 3 {
            continue;
        }
        let ToServer::Masked { y } = ToServer::decode(bytes, &session, &p).unwrap() else { panic!() };
        assert!(chi_square_top_byte(&y) < 330.5, "site {u}: masked vector not uniform");
        assert!(chi_square_top_byte(&x[*u as usize]) > 10_000.0);
        // Also no coordinate equals the input more often than chance.
        let same = y.iter().zip(&x[*u as usize]).filter(|(a, b)| a == b).count();
        assert!(same < 3);
    }
    // 2. Shares: t of them (what the server legitimately gets for a survivor)
    //    rebuild the self-mask seed; t - 1 cannot: the library refuses, and
    //    interpolating t - 1 points as if the threshold were t - 1 gives a
    //    different value.
    let mut b_shares: Vec<Vec<u8>> = Vec::new();
    for (stage, _, bytes) in &r.transcript {
        if *stage == 4 {
            let ToServer::Reveal { b, .. } = ToServer::decode(bytes, &session, &p).unwrap() else { panic!() };
            b_shares.extend(b.into_iter().filter(|(o, _)| *o == 0).map(|(_, s)| s));
        }
    }
    assert!(b_shares.len() >= t as usize);
    let refs: Vec<&[u8]> = b_shares.iter().map(|s| s.as_slice()).collect();
    let seed = crypto::recover(&refs[..t as usize], t).unwrap();
    assert_eq!(crypto::recover(&refs[1..t as usize + 1], t).unwrap(), seed, "any t shares agree");
    assert_eq!(crypto::recover(&refs[..t as usize - 1], t), None);
    assert_ne!(crypto::recover(&refs[..t as usize - 1], t - 1), Some(seed));
    // 3. The sealed shares routed through the server are not the shares.
    for (stage, _, bytes) in &r.transcript {
        if *stage == 2 {
            let ToServer::Shares { to } = ToServer::decode(bytes, &session, &p).unwrap() else { panic!() };
            for (_, ct, _, _) in to {
                assert!(b_shares.iter().all(|s| !ct.windows(s.len()).any(|w| w == s.as_slice())));
            }
        }
    }
}

#[test]
fn hostile_messages_exclude_the_site_and_the_round_goes_on() {
    // k = 16, t = 9: even if all seven hostile sites are one site's neighbours, 9 remain.
    let n = 30;
    let len = 32;
    let x = inputs(n, len, 14);
    let p = Params::for_sites(n as u32, len as u32);
    // Site 2: garbage at stage 1. Site 3: replays its keys. Site 4: oversized
    // masked vector. Site 5: wrong-length vector. Site 6: a forged share at
    // reveal. Site 7: a truncated share message. Site 8: wrong magic at stage 3.
    let r = run(p.clone(), &x, 14, &mut |stage, u, m| match (stage, u) {
        (1, 2) => {
            *m = vec![0xde, 0xad, 0xbe, 0xef];
            Fate::Deliver
        }
        (1, 3) => Fate::Twice,
        (3, 4) => {
            m.extend(vec![0u8; 100_000]);
            Fate::Deliver
        }
        (3, 5) => {
            // Claim one word fewer: a consistent but wrong-length vector.
            let words = (len - 1) as u32;
            m[38..42].copy_from_slice(&words.to_le_bytes());
            m.truncate(m.len() - 4);
            Fate::Deliver
        }
        (4, 6) => {
            // Flip a byte of the first revealed share (after the count, owner, length).
            let at = 38 + 4 + 4 + 4 + 5;
            m[at] ^= 0x55;
            Fate::Deliver
        }
        (2, 7) => {
            m.truncate(m.len() - 10);
            Fate::Deliver
        }
        (3, 8) => {
            m[0] = b'X';
            Fate::Deliver
        }
        _ => Fate::Deliver,
    });
    let msgs: Vec<String> = r.rejected.iter().map(|e| e.to_string()).collect();
    let has = |site: u32, what: &str| msgs.iter().any(|m| m.contains(&format!("site {site} ")) && m.contains(what));
    assert!(has(2, "magic"), "{msgs:?}");
    assert!(has(3, "replayed"), "{msgs:?}");
    assert!(has(4, "exceeds"), "{msgs:?}");
    assert!(has(5, "length 31"), "{msgs:?}");
    assert!(has(7, "truncated"), "{msgs:?}");
    assert!(has(8, "magic"), "{msgs:?}");
    let a = r.result.unwrap();
    assert!(a.excluded.iter().any(|(s, why)| *s == 6 && why.contains("commitment")), "{:?}", a.excluded);
    // Sites 2, 3, 7 never took part; 4, 5, 8 shared keys but sent no valid input.
    let want: Vec<u32> = (0..n as u32).filter(|u| ![2, 3, 4, 5, 7, 8].contains(u)).collect();
    assert_eq!(a.survivors, want);
    assert_eq!(a.sum, plain_sum(&x, &want));
}

#[test]
fn a_tampered_sealed_share_is_refused_by_its_recipient() {
    let n = 6;
    let x = inputs(n, 8, 15);
    let r = run(Params::for_sites(n as u32, 8), &x, 15, &mut |stage, u, m| {
        if stage == 2 && u == 0 {
            // Flip a ciphertext byte: count(4) + holder(4) + len(4), then the ciphertext.
            m[38 + 12 + 3] ^= 1;
        }
        Fate::Deliver
    });
    assert!(r.client_errors.iter().any(|(_, e)| e.contains("does not decrypt")), "{:?}", r.client_errors);
    // The recipient left the round; the rest still sum correctly.
    let a = r.result.unwrap();
    assert_eq!(a.sum, plain_sum(&x, &a.survivors));
    assert_eq!(a.survivors.len(), n - 1);
}

#[test]
fn random_corruption_never_panics_and_never_gives_a_wrong_sum() {
    let n = 8;
    let len = 16;
    let x = inputs(n, len, 16);
    let mut rng = Prg::seeded(99);
    for _ in 0..60 {
        let (target_stage, target_site) = (1 + rng.below(4) as u8, rng.below(n as u64) as u32);
        let flips = 1 + rng.below(4);
        let mut r2 = Prg::seeded(rng.next_u64());
        let r = run(Params::for_sites(n as u32, len as u32), &x, 16, &mut |stage, u, m| {
            if stage == target_stage && u == target_site {
                // A masked vector's payload is whatever the site sends (TLS
                // guards its integrity): corrupt only its framing.
                let span = if stage == 3 { 42 } else { m.len() };
                for _ in 0..flips {
                    let i = r2.below(span as u64) as usize;
                    m[i] ^= 1 << r2.below(8);
                }
            }
            Fate::Deliver
        });
        if let Ok(a) = r.result {
            assert_eq!(a.sum, plain_sum(&x, &a.survivors), "stage {target_stage} site {target_site}");
        }
    }
}

#[test]
fn a_server_asking_for_both_secrets_is_refused() {
    // A client answers Unmask listing the same neighbour as survivor and dropped with an error.
    use super::msg::ToClient;
    let p = Params::for_sites(4, 4);
    let mut rng = Prg::seeded(3);
    let (mut server, setup) = Server::new(p, &mut rng).unwrap();
    let mut clients: Vec<Client> = (0..4).map(|i| Client::new(vec![i; 4], Prg::seeded(50 + i as u64))).collect();
    let mut inbox = setup;
    for _ in 1..=3 {
        for (u, m) in inbox {
            let reply = clients[u as usize].handle(&m).unwrap().unwrap();
            server.receive(u, &reply).unwrap();
        }
        let Step::Send(m) = server.advance().unwrap() else { panic!() };
        inbox = m;
    }
    let session: [u8; 32] = inbox[0].1[6..38].try_into().unwrap();
    let evil = ToClient::Unmask { survivors: vec![1, 2, 3], dropped: vec![1] }.encode(&session);
    let e = clients[0].handle(&evil).unwrap_err();
    assert!(e.to_string().contains("both secrets"), "{e}");
}
