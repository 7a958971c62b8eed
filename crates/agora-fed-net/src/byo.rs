//! "Bring your own trainer": the agent runs the site's own command (any
//! framework) that reads the global weights and writes updated weights,
//! both as safetensors files. The contract (see examples/fed/README.md):
//!
//! - `AGORA_FED_MODE` is `train` or `evaluate`;
//! - `AGORA_FED_IN` is a safetensors file with one F64 tensor `weights`
//!   and metadata `model` (JSON), `inputs`, `local` (JSON: steps, batch, lr,
//!   optimizer, prox_mu);
//! - train: write `AGORA_FED_OUT` as safetensors with tensor `weights` (F64,
//!   same length) and metadata `samples` (the number of training rows);
//! - evaluate: write `AGORA_FED_OUT` as JSON `{"n": rows, "metric": value}`.
//!
//! The command and its data path stay on the site: nothing of them is sent.

use agora_fed::model::{LocalConfig, Model};
use agora_fed::prg::Prg;
use agora_fed::run::Trainer;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

pub struct CommandTrainer {
    pub command: String,
    pub workdir: PathBuf,
}

pub fn write_weights(w: &[f64], meta: HashMap<String, String>) -> Result<Vec<u8>, String> {
    let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F64, vec![w.len()], &bytes).map_err(|e| e.to_string())?;
    safetensors::serialize([("weights", view)], &Some(meta)).map_err(|e| e.to_string())
}

/// The `weights` tensor (F64 or F32) and the metadata of a safetensors file.
pub fn read_weights(bytes: &[u8]) -> Result<(Vec<f64>, HashMap<String, String>), String> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
    let t = st.tensor("weights").map_err(|e| format!("no `weights` tensor: {e}"))?;
    let w = match t.dtype() {
        Dtype::F64 => t.data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8"))).collect(),
        Dtype::F32 => t.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4")) as f64).collect(),
        d => return Err(format!("`weights` has dtype {d:?}, expected F64 or F32")),
    };
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
    Ok((w, meta.metadata().clone().unwrap_or_default()))
}

impl CommandTrainer {
    fn run(&self, mode: &str, model: &Model, w: &[f64], local: Option<&LocalConfig>) -> Result<Vec<u8>, String> {
        std::fs::create_dir_all(&self.workdir).map_err(|e| e.to_string())?;
        let input = self.workdir.join("global.safetensors");
        let output = self.workdir.join(format!("{mode}.out"));
        let _ = std::fs::remove_file(&output);
        let mut meta = HashMap::new();
        meta.insert("model".into(), serde_json::to_string(&model.kind).map_err(|e| e.to_string())?);
        meta.insert("inputs".into(), model.inputs.to_string());
        if let Some(l) = local {
            meta.insert("local".into(), serde_json::to_string(l).map_err(|e| e.to_string())?);
        }
        std::fs::write(&input, write_weights(w, meta)?).map_err(|e| e.to_string())?;
        let st = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("AGORA_FED_MODE", mode)
            .env("AGORA_FED_IN", &input)
            .env("AGORA_FED_OUT", &output)
            .status()
            .map_err(|e| format!("cannot run the trainer command: {e}"))?;
        if !st.success() {
            return Err(format!("trainer command failed ({st})"));
        }
        std::fs::read(&output).map_err(|e| format!("trainer wrote no {}: {e}", output.display()))
    }
}

impl Trainer for CommandTrainer {
    fn train(
        &mut self,
        model: &Model,
        global: &[f64],
        local: &LocalConfig,
        _rng: &mut Prg,
    ) -> Result<(Vec<f64>, usize), String> {
        let out = self.run("train", model, global, Some(local))?;
        let (w, meta) = read_weights(&out)?;
        let n = meta
            .get("samples")
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or("the trainer's output has no `samples` metadata")?;
        Ok((w, n))
    }
    fn evaluate(&mut self, model: &Model, w: &[f64]) -> Result<(usize, f64), String> {
        let out = self.run("evaluate", model, w, None)?;
        #[derive(serde::Deserialize)]
        struct M {
            n: usize,
            metric: f64,
        }
        let m: M = serde_json::from_slice(&out).map_err(|e| format!("bad evaluation output: {e}"))?;
        Ok((m.n, m.metric))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_round_trip_and_bad_files_are_errors() {
        let mut m = HashMap::new();
        m.insert("samples".to_string(), "12".to_string());
        let b = write_weights(&[1.5, -2.0], m).unwrap();
        let (w, meta) = read_weights(&b).unwrap();
        assert_eq!(w, vec![1.5, -2.0]);
        assert_eq!(meta["samples"], "12");
        assert!(read_weights(b"garbage").unwrap_err().contains("not a safetensors"));
    }
}
