//! Cox proportional hazards: negative Breslow partial log-likelihood per
//! event, and Harrell's concordance index (as lifelines'
//! `concordance_index(T, -risk, E)`, FLamby's metric).

use ndarray::{ArrayView1, ArrayView2};

pub fn loss_grad(w: &[f64], x: ArrayView2<f64>, e: ArrayView1<f64>, t: ArrayView1<f64>) -> (f64, Vec<f64>) {
    let d = x.ncols();
    let eta = super::linear(w, x);
    let n = eta.len();
    // Risk set of i: every j with t_j >= t_i. Walk times from the largest down,
    // accumulating sums; tied times join the set together (Breslow).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| t[b].partial_cmp(&t[a]).unwrap_or(std::cmp::Ordering::Equal));
    let shift = eta.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let (mut s0, mut s1) = (0.0, vec![0.0; d]);
    let (mut loss, mut g, mut events) = (0.0, vec![0.0; d + 1], 0.0);
    let mut k = 0;
    while k < n {
        let mut end = k;
        while end < n && t[order[end]] == t[order[k]] {
            let j = order[end];
            let r = (eta[j] - shift).exp();
            s0 += r;
            for c in 0..d {
                s1[c] += r * x[[j, c]];
            }
            end += 1;
        }
        for &i in &order[k..end] {
            if e[i] > 0.5 {
                events += 1.0;
                loss -= eta[i] - shift - s0.ln();
                for c in 0..d {
                    g[c] -= x[[i, c]] - s1[c] / s0;
                }
            }
        }
        k = end;
    }
    // The intercept cancels out of the partial likelihood: its gradient stays 0.
    if events > 0.0 {
        loss /= events;
        g.iter_mut().for_each(|v| *v /= events);
    }
    (loss, g)
}

/// Harrell's C: over comparable pairs (t_i < t_j with i an event), the share
/// where i has the higher risk; ties in risk count one half.
pub fn c_index(t: ArrayView1<f64>, risk: ArrayView1<f64>, e: ArrayView1<f64>) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..t.len() {
        if e[i] <= 0.5 {
            continue;
        }
        for j in 0..t.len() {
            if t[i] < t[j] {
                den += 1.0;
                if risk[i] > risk[j] {
                    num += 1.0;
                } else if risk[i] == risk[j] {
                    num += 0.5;
                }
            }
        }
    }
    if den == 0.0 {
        0.5
    } else {
        num / den
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    #[test]
    fn c_index_on_hand_cases() {
        let t = arr1(&[1.0, 2.0, 3.0]);
        let e = arr1(&[1.0, 1.0, 0.0]);
        assert_eq!(c_index(t.view(), arr1(&[3.0, 2.0, 1.0]).view(), e.view()), 1.0);
        assert_eq!(c_index(t.view(), arr1(&[1.0, 2.0, 3.0]).view(), e.view()), 0.0);
        assert_eq!(c_index(t.view(), arr1(&[1.0, 1.0, 1.0]).view(), e.view()), 0.5);
    }
}
