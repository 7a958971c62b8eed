//! Cluster files: a TOML description of a site's pods, blocks and nodes.
//!
//! Two forms, one per file. Explicit, mirroring `TopologySpec`:
//!
//! ```toml
//! name = "lab"
//! [[pods]]
//! name = "pod0"
//! [[pods.blocks]]
//! name = "rack0"
//! accel_type = "h100"
//! [[pods.blocks.nodes]]
//! name = "n0"
//! accelerators = 8
//! ```
//!
//! or compact, mirroring `topology::Regular`:
//!
//! ```toml
//! name = "big"
//! [regular]
//! accel_type = "h100"
//! blocks = 391
//! blocks_per_pod = 16
//! nodes_per_block = 32
//! accelerators_per_node = 8
//! last_block_nodes = 20   # optional; 0 = the last block is full
//! ```

use crate::{from_toml, invalid, preset, ranged, read, ConfigError};
use agora_core::topology::{BlockSpec, NodeSpec, PodSpec, Regular, TopologySpec, MAX_NODE_ACCELS};
use agora_core::Topology;
use serde::Deserialize;
use std::ops::RangeInclusive;
use std::path::Path;

/// The most nodes a `[regular]` site may generate, so that a typo cannot
/// ask for billions of nodes (the explicit form is bounded by its text).
pub const MAX_NODES: u64 = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    name: String,
    pods: Option<Vec<PodFile>>,
    regular: Option<RegularFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PodFile {
    name: String,
    #[serde(default)]
    blocks: Vec<BlockFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockFile {
    name: String,
    accel_type: String,
    #[serde(default)]
    nodes: Vec<NodeFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    name: String,
    accelerators: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegularFile {
    accel_type: String,
    blocks: i64,
    blocks_per_pod: i64,
    nodes_per_block: i64,
    accelerators_per_node: i64,
    #[serde(default)]
    last_block_nodes: i64,
}

/// Parses a cluster file's text; `origin` names it in errors.
pub fn parse_cluster(text: &str, origin: &str) -> Result<Topology, ConfigError> {
    let file: ClusterFile = from_toml(text, origin)?;
    let spec = match (file.pods, file.regular) {
        (Some(pods), None) => explicit(file.name, pods, origin)?,
        (None, Some(r)) => regular(file.name, r, origin)?,
        (Some(_), Some(_)) => {
            return Err(invalid(origin, "regular", "a file has either `[regular]` or `[[pods]]`, not both"))
        }
        (None, None) => return Err(invalid(origin, "pods", "describe the site with `[[pods]]` or `[regular]`")),
    };
    Topology::new(spec).map_err(|e| invalid(origin, e.field, e.reason))
}

pub fn load_cluster(path: &Path) -> Result<Topology, ConfigError> {
    parse_cluster(&read(path)?, &path.display().to_string())
}

/// A preset name (see `PRESETS`) or the path of a cluster file.
pub fn cluster(spec: &str) -> Result<Topology, ConfigError> {
    if let Some(t) = preset(spec) {
        return Ok(t);
    }
    let path = Path::new(spec);
    if path.is_file() || spec.ends_with(".toml") {
        return load_cluster(path);
    }
    Err(ConfigError::UnknownCluster { spec: spec.into() })
}

fn explicit(name: String, pods: Vec<PodFile>, origin: &str) -> Result<TopologySpec, ConfigError> {
    let mut spec = TopologySpec { name, pods: Vec::with_capacity(pods.len()) };
    for (pi, pod) in pods.into_iter().enumerate() {
        let mut blocks = Vec::with_capacity(pod.blocks.len());
        for (bi, block) in pod.blocks.into_iter().enumerate() {
            let mut nodes = Vec::with_capacity(block.nodes.len());
            for (ni, node) in block.nodes.into_iter().enumerate() {
                let field = || format!("pods[{pi}].blocks[{bi}].nodes[{ni}].accelerators");
                let accels = ranged(node.accelerators, 1..=MAX_NODE_ACCELS as i64)
                    .map_err(|reason| invalid(origin, field(), reason))?;
                nodes.push(NodeSpec { name: node.name, accels });
            }
            blocks.push(BlockSpec { name: block.name, accel_type: block.accel_type, nodes });
        }
        spec.pods.push(PodSpec { name: pod.name, blocks });
    }
    Ok(spec)
}

fn regular(name: String, r: RegularFile, origin: &str) -> Result<TopologySpec, ConfigError> {
    fn get<T: TryFrom<i64>>(origin: &str, field: &str, v: i64, range: RangeInclusive<i64>) -> Result<T, ConfigError> {
        ranged(v, range).map_err(|reason| invalid(origin, format!("regular.{field}"), reason))
    }
    const MAX: i64 = MAX_NODES as i64;
    let nodes_per_block: u32 = get(origin, "nodes_per_block", r.nodes_per_block, 1..=MAX)?;
    let r = Regular {
        name,
        accel_type: r.accel_type,
        blocks: get(origin, "blocks", r.blocks, 1..=MAX)?,
        blocks_per_pod: get(origin, "blocks_per_pod", r.blocks_per_pod, 1..=MAX)?,
        nodes_per_block,
        accels_per_node: get(origin, "accelerators_per_node", r.accelerators_per_node, 1..=MAX_NODE_ACCELS as i64)?,
        last_block_nodes: get(origin, "last_block_nodes", r.last_block_nodes, 0..=nodes_per_block as i64)?,
    };
    let nodes = r.blocks as u64 * r.nodes_per_block as u64;
    if nodes > MAX_NODES {
        return Err(invalid(
            origin,
            "regular.blocks",
            format!("{nodes} nodes are more than the {MAX_NODES} a site may have"),
        ));
    }
    if r.accel_type.is_empty() {
        return Err(invalid(origin, "regular.accel_type", "must not be empty"));
    }
    Ok(r.spec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parsed file's summary, or its error message.
    fn check(text: &str, expected: &str) {
        let got = match parse_cluster(text, "c.toml") {
            Ok(t) => t.summary(),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected, "\ninput:\n{text}");
    }

    const TWO_NODES: &str = r#"
name = "lab"
[[pods]]
name = "pod0"
[[pods.blocks]]
name = "rack0"
accel_type = "h100"
[[pods.blocks.nodes]]
name = "n0"
accelerators = 8
[[pods.blocks.nodes]]
name = "n1"
accelerators = 4
"#;

    #[test]
    fn explicit_files() {
        check(TWO_NODES, "lab: 12 accelerators (12 h100) on 2 nodes in 1 blocks and 1 pods");
        check(
            &TWO_NODES.replace("accelerators = 4", "accelerators = 17"),
            "c.toml: pods[0].blocks[0].nodes[1].accelerators: 17 is out of range 1..=16",
        );
        check(
            &TWO_NODES.replace("accelerators = 4", "accelerators = -1"),
            "c.toml: pods[0].blocks[0].nodes[1].accelerators: -1 is out of range 1..=16",
        );
        check(
            &TWO_NODES.replace("\"n1\"", "\"n0\""),
            "c.toml: pods[0].blocks[0].nodes[1].name: node `n0` is defined twice",
        );
        check(
            &TWO_NODES.replace("accel_type = \"h100\"", "accel_type = \"\""),
            "c.toml: pods[0].blocks[0].accel_type: must not be empty",
        );
        check("name = \"x\"\n[[pods]]\nname = \"p\"", "c.toml: pods[0].blocks: pod `p` has no blocks");
        check("name = \"x\"\npods = []", "c.toml: pods: a site needs at least one pod");
        check("name = \"x\"", "c.toml: pods: describe the site with `[[pods]]` or `[regular]`");
    }

    const REGULAR: &str = r#"
name = "hgx"
[regular]
accel_type = "h100"
blocks = 5
blocks_per_pod = 2
nodes_per_block = 4
accelerators_per_node = 8
last_block_nodes = 3
"#;

    #[test]
    fn regular_files() {
        check(REGULAR, "hgx: 152 accelerators (152 h100) on 19 nodes in 5 blocks and 3 pods");
        check(
            &REGULAR.replace("last_block_nodes = 3\n", ""),
            "hgx: 160 accelerators (160 h100) on 20 nodes in 5 blocks and 3 pods",
        );
        check(
            &REGULAR.replace("blocks_per_pod = 2", "blocks_per_pod = 0"),
            "c.toml: regular.blocks_per_pod: 0 is out of range 1..=1000000",
        );
        check(
            &REGULAR.replace("last_block_nodes = 3", "last_block_nodes = 5"),
            "c.toml: regular.last_block_nodes: 5 is out of range 0..=4",
        );
        check(
            &REGULAR.replace("accelerators_per_node = 8", "accelerators_per_node = 300"),
            "c.toml: regular.accelerators_per_node: 300 is out of range 1..=16",
        );
        check(
            &REGULAR.replace("blocks = 5", "blocks = 900000"),
            "c.toml: regular.blocks: 3600000 nodes are more than the 1000000 a site may have",
        );
        check(
            &format!("{REGULAR}[[pods]]\nname = \"p\""),
            "c.toml: regular: a file has either `[regular]` or `[[pods]]`, not both",
        );
    }

    #[test]
    fn toml_errors_give_line_and_column() {
        check(
            &REGULAR.replace("blocks = 5", "blokcs = 5"),
            "c.toml: TOML parse error at line 5, column 1
  |
5 | blokcs = 5
  | ^^^^^^
unknown field `blokcs`, expected one of `accel_type`, `blocks`, `blocks_per_pod`, `nodes_per_block`, `accelerators_per_node`, `last_block_nodes`",
        );
        check(
            &REGULAR.replace("blocks = 5", "blocks = "),
            "c.toml: TOML parse error at line 5, column 10
  |
5 | blocks = 
  |          ^
invalid string
expected `\"`, `'`",
        );
        check(
            &REGULAR.replace("blocks = 5", "blocks = \"five\""),
            "c.toml: TOML parse error at line 5, column 10
  |
5 | blocks = \"five\"
  |          ^^^^^^
invalid type: string \"five\", expected i64",
        );
    }

    #[test]
    fn truncated_files_fail_cleanly() {
        for text in [TWO_NODES, REGULAR] {
            for end in 0..text.len() {
                if let Err(e) = parse_cluster(&text[..end], "cut.toml") {
                    assert!(e.to_string().starts_with("cut.toml: "), "{e}");
                }
            }
        }
    }

    #[test]
    fn cluster_takes_a_preset_or_a_file() {
        assert_eq!(cluster("kth-sp2").unwrap().nodes.len(), 100);
        let path = std::env::temp_dir().join(format!("agora-config-test-{}.toml", std::process::id()));
        std::fs::write(&path, REGULAR).unwrap();
        let loaded = cluster(path.to_str().unwrap());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(loaded.unwrap().nodes.len(), 19);
        let e = cluster("gigafactory").unwrap_err().to_string();
        assert!(e.starts_with("`gigafactory` is neither a preset (gigafactory-100k-nvl72, "), "{e}");
        let e = cluster("/nonexistent/site.toml").unwrap_err().to_string();
        assert!(e.starts_with("/nonexistent/site.toml: cannot read the file: "), "{e}");
    }
}
