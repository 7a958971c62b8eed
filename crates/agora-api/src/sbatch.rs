//! Slurm batch scripts: `#SBATCH` directives become a `JobSubmit`, the
//! script itself becomes the command. Directives are read as `sbatch` does:
//! only in the header (before the first command line), both `-X value` and
//! `--long=value` / `--long value` forms.

use crate::types::Duration;
use crate::{FieldError, JobSubmit};

/// Parse a batch script. Unknown directives are refused with their line so
/// that a job never runs with settings the user believes were applied.
pub fn parse(script: &str) -> Result<JobSubmit, FieldError> {
    let mut s = JobSubmit::default();
    let mut gpus: Option<u32> = None;
    for (i, line) in script.lines().enumerate() {
        let t = line.trim();
        if i == 0 && t.starts_with("#!") {
            continue;
        }
        if t.is_empty() || (t.starts_with('#') && !t.starts_with("#SBATCH")) {
            continue;
        }
        let Some(rest) = t.strip_prefix("#SBATCH") else { break };
        let field = format!("script line {}", i + 1);
        let words: Vec<&str> = rest.split_whitespace().collect();
        let mut w = 0;
        while w < words.len() {
            let word = words[w];
            let (key, inline) = match word.split_once('=') {
                Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
                _ => (word, None),
            };
            let value = |w: &mut usize| -> Result<String, FieldError> {
                if let Some(v) = &inline {
                    return Ok(v.clone());
                }
                *w += 1;
                words
                    .get(*w)
                    .map(|v| v.to_string())
                    .ok_or_else(|| FieldError::new(&field, format!("`{key}` needs a value")))
            };
            let num = |v: &str, what: &str| {
                v.parse::<u32>().map_err(|_| FieldError::new(&field, format!("{what} `{v}` is not a number")))
            };
            match key {
                "-J" | "--job-name" => s.name = Some(value(&mut w)?),
                "-A" | "--account" => s.project = value(&mut w)?,
                "-N" | "--nodes" => {
                    let v = value(&mut w)?;
                    s.nodes = Some(num(&v, "nodes")?);
                }
                "-G" | "--gpus" => {
                    let v = value(&mut w)?;
                    // "--gpus=h100:8" names a type.
                    let n = match v.rsplit_once(':') {
                        Some((ty, n)) => {
                            s.accel_type = Some(ty.to_string());
                            n.to_string()
                        }
                        None => v,
                    };
                    gpus = Some(num(&n, "gpus")?);
                }
                "--gpus-per-node" => {
                    let v = value(&mut w)?;
                    let n = v.rsplit(':').next().unwrap_or(&v).to_string();
                    s.per_node = Some(num(&n, "gpus per node")?);
                }
                "-t" | "--time" => {
                    let v = value(&mut w)?;
                    let secs = crate::duration::parse_slurm(&v).map_err(|m| FieldError::new(&field, m))?;
                    s.time_limit = Some(Duration::Secs(secs));
                }
                "-q" | "--qos" => s.class = Some(value(&mut w)?),
                "--requeue" => s.requeue = Some(true),
                "--no-requeue" => s.requeue = Some(false),
                "-d" | "--dependency" => s.dependency = Some(value(&mut w)?),
                "-p" | "--partition" => s.accel_type = Some(value(&mut w)?),
                "-a" | "--array" => s.array = Some(value(&mut w)?),
                other => {
                    return Err(FieldError::new(
                        &field,
                        format!("`#SBATCH {other}` is not understood (supported: -J -A -N --gpus --gpus-per-node -t --qos --requeue --dependency -p --array)"),
                    ))
                }
            }
            w += 1;
        }
    }
    if s.project.is_empty() {
        return Err(FieldError::new("project", "the script has no `#SBATCH -A/--account` naming the project"));
    }
    s.accelerators = match (gpus, s.nodes, s.per_node) {
        (Some(g), _, _) => Some(g),
        (None, Some(n), Some(k)) => Some(n.saturating_mul(k)),
        _ => None,
    };
    s.command = Some(script.to_string());
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_become_a_submission() {
        let s = parse(
            "#!/bin/bash\n#SBATCH -J train --account=proj\n#SBATCH -N 2 --gpus-per-node=8\n#SBATCH -t 1-00:00:00 --qos=reserved\n#SBATCH --requeue --dependency=afterok:4 -p h100\n#SBATCH --array=0-3\nsrun python train.py\n#SBATCH -J ignored\n",
        )
        .unwrap();
        assert_eq!(s.name.as_deref(), Some("train"));
        assert_eq!(s.project, "proj");
        assert_eq!(s.accelerators, Some(16));
        assert_eq!(s.time_limit, Some(Duration::Secs(86_400)));
        assert_eq!(s.class.as_deref(), Some("reserved"));
        assert_eq!(s.requeue, Some(true));
        assert_eq!(s.dependency.as_deref(), Some("afterok:4"));
        assert_eq!(s.accel_type.as_deref(), Some("h100"));
        assert_eq!(s.array.as_deref(), Some("0-3"));
        assert!(s.command.unwrap().contains("srun"));
        let s = parse("#SBATCH -A p --gpus 4 -t 30\n").unwrap();
        assert_eq!((s.accelerators, s.time_limit), (Some(4), Some(Duration::Secs(1800))));
    }

    #[test]
    fn bad_scripts_name_the_line() {
        assert_eq!(parse("#SBATCH -A p\n#SBATCH --mem=4G\n").unwrap_err().field, "script line 2");
        assert_eq!(parse("#SBATCH -N two -A p\n").unwrap_err().message, "nodes `two` is not a number");
        assert_eq!(parse("#SBATCH -J x\n").unwrap_err().field, "project");
        assert!(parse("#SBATCH -A p -t 1:2:3:4\n").unwrap_err().message.contains("Slurm time"));
        assert!(parse("#SBATCH -A\n").unwrap_err().message.contains("needs a value"));
    }
}
