//! A one-hidden-layer perceptron (tanh, sigmoid output, cross-entropy).
//! Layout of the flat vector: W1 (hidden x inputs), b1, w2 (hidden), b2.

use crate::prg::Prg;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

pub fn n_params(inputs: usize, hidden: usize) -> usize {
    hidden * inputs + hidden + hidden + 1
}

pub fn init(inputs: usize, hidden: usize, rng: &mut Prg) -> Vec<f64> {
    let s1 = (1.0 / inputs.max(1) as f64).sqrt();
    let s2 = (1.0 / hidden.max(1) as f64).sqrt();
    let mut w = Vec::with_capacity(n_params(inputs, hidden));
    w.extend((0..hidden * inputs).map(|_| s1 * rng.normal()));
    w.extend(std::iter::repeat_n(0.0, hidden));
    w.extend((0..hidden).map(|_| s2 * rng.normal()));
    w.push(0.0);
    w
}

fn unpack(
    w: &[f64],
    inputs: usize,
    hidden: usize,
) -> (ArrayView2<'_, f64>, ArrayView1<'_, f64>, ArrayView1<'_, f64>, f64) {
    let (w1, rest) = w.split_at(hidden * inputs);
    let (b1, rest) = rest.split_at(hidden);
    let (w2, b2) = rest.split_at(hidden);
    (ArrayView2::from_shape((hidden, inputs), w1).expect("shape"), ArrayView1::from(b1), ArrayView1::from(w2), b2[0])
}

/// Probabilities and hidden activations.
pub fn forward(w: &[f64], inputs: usize, hidden: usize, x: ArrayView2<f64>) -> (Array1<f64>, Array2<f64>) {
    let (w1, b1, w2, b2) = unpack(w, inputs, hidden);
    let h = (x.dot(&w1.t()) + b1).mapv(f64::tanh);
    let p = (h.dot(&w2) + b2).mapv(super::sigmoid);
    (p, h)
}

pub fn loss_grad(w: &[f64], inputs: usize, hidden: usize, x: ArrayView2<f64>, y: ArrayView1<f64>) -> (f64, Vec<f64>) {
    let (p, h) = forward(w, inputs, hidden, x);
    let n = y.len().max(1) as f64;
    let loss = p.iter().zip(y).map(|(p, y)| super::bce(*p, *y)).sum::<f64>() / n;
    let (_, _, w2, _) = unpack(w, inputs, hidden);
    let d_out = (&p - &y) / n; // dL/dz2
    let g_w2 = h.t().dot(&d_out);
    let g_b2 = d_out.sum();
    // dL/dz1 = d_out * w2 * (1 - h^2)
    let mut d_h = d_out.view().insert_axis(Axis(1)).dot(&w2.view().insert_axis(Axis(0)));
    d_h.zip_mut_with(&h, |d, h| *d *= 1.0 - h * h);
    let g_w1 = d_h.t().dot(&x);
    let g_b1 = d_h.sum_axis(Axis(0));
    let mut g = Vec::with_capacity(w.len());
    g.extend(g_w1.iter());
    g.extend(g_b1.iter());
    g.extend(g_w2.iter());
    g.push(g_b2);
    (loss, g)
}
