//! Slurm's view of the machine -> Agora's topology.
//!
//! Nodes with GPUs (GRES `gpu[:type]:count`) become Agora nodes. With a
//! `topology.conf` (topology/tree), each leaf switch (`SwitchName=s1
//! Nodes=...`) is a block and the switch above it (`Switches=...`) its pod;
//! nodes under no leaf switch form the block `unswitched`. Without one,
//! each accelerator type is one block of one pod. A block holds one
//! accelerator type, so a leaf switch with two types becomes two blocks.
//! Nodes without GPUs are skipped (Agora schedules accelerators).

use crate::{hostlist, SlurmNode, SlurmPartition};
use agora_core::topology::{BlockSpec, NodeSpec, PodSpec, TopologySpec, MAX_NODE_ACCELS};
use agora_core::Topology;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("topology.conf line {line}: {reason}")]
    TopologyConf { line: usize, reason: String },
    #[error("node {node} has {gpus} GPUs; Agora supports at most {MAX_NODE_ACCELS} per node")]
    TooManyGpus { node: String, gpus: u32 },
    #[error("no node of this Slurm cluster has a GPU (GRES gpu); nothing for Agora to schedule")]
    NoGpus,
    #[error("the imported topology is invalid: {0}")]
    Invalid(String),
}

/// A switch of `topology.conf`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Switch {
    pub name: String,
    pub nodes: Vec<String>,
    pub switches: Vec<String>,
}

/// Parse `topology.conf` (topology/tree): `SwitchName=... Nodes=... | Switches=...`.
pub fn parse_topology_conf(text: &str) -> Result<Vec<Switch>, ImportError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |reason: String| ImportError::TopologyConf { line: i + 1, reason };
        let mut sw = Switch::default();
        for field in line.split_whitespace() {
            let (k, v) = field.split_once('=').ok_or_else(|| err(format!("`{field}` is not key=value")))?;
            match k.to_ascii_lowercase().as_str() {
                "switchname" => sw.name = v.to_string(),
                "nodes" => sw.nodes = hostlist::expand(v).map_err(err)?,
                "switches" => sw.switches = hostlist::expand(v).map_err(err)?,
                "linkspeed" => {}
                _ => return Err(err(format!("unknown key `{k}`"))),
            }
        }
        if sw.name.is_empty() {
            return Err(err("no SwitchName".into()));
        }
        out.push(sw);
    }
    Ok(out)
}

/// Build the topology. `name`: the site's name (e.g. Slurm's ClusterName).
pub fn import(
    name: &str,
    nodes: &[SlurmNode],
    _partitions: &[SlurmPartition],
    switches: Option<&[Switch]>,
) -> Result<Topology, ImportError> {
    let gpu_nodes: BTreeMap<&str, &SlurmNode> =
        nodes.iter().filter(|n| n.gpus > 0).map(|n| (n.name.as_str(), n)).collect();
    if gpu_nodes.is_empty() {
        return Err(ImportError::NoGpus);
    }
    for n in gpu_nodes.values() {
        if n.gpus > MAX_NODE_ACCELS as u32 {
            return Err(ImportError::TooManyGpus { node: n.name.clone(), gpus: n.gpus });
        }
    }
    // pod name -> blocks (name, node names in Slurm's order)
    type Blocks = Vec<(String, Vec<String>)>;
    let mut pods: Vec<(String, Blocks)> = Vec::new();
    let mut placed: std::collections::HashSet<&str> = Default::default();
    if let Some(sw) = switches {
        let parent: BTreeMap<&str, &str> =
            sw.iter().flat_map(|s| s.switches.iter().map(move |c| (c.as_str(), s.name.as_str()))).collect();
        for leaf in sw.iter().filter(|s| !s.nodes.is_empty()) {
            let pod = parent.get(leaf.name.as_str()).copied().unwrap_or(leaf.name.as_str()).to_string();
            let members: Vec<String> = leaf
                .nodes
                .iter()
                .filter(|n| gpu_nodes.contains_key(n.as_str()) && placed.insert(gpu_nodes[n.as_str()].name.as_str()))
                .cloned()
                .collect();
            if members.is_empty() {
                continue;
            }
            let i = match pods.iter().position(|(p, _)| *p == pod) {
                Some(i) => i,
                None => {
                    pods.push((pod, Vec::new()));
                    pods.len() - 1
                }
            };
            pods[i].1.push((leaf.name.clone(), members));
        }
    }
    let rest: Vec<String> =
        nodes.iter().filter(|n| n.gpus > 0 && !placed.contains(n.name.as_str())).map(|n| n.name.clone()).collect();
    if !rest.is_empty() {
        let block = if switches.is_some() { "unswitched" } else { "nodes" };
        pods.push((name.to_string(), vec![(block.to_string(), rest)]));
    }
    let mut spec = TopologySpec { name: name.to_string(), pods: Vec::new() };
    for (pod, blocks) in pods {
        let mut p = PodSpec { name: pod, blocks: Vec::new() };
        for (block, members) in blocks {
            // One block per accelerator type.
            let mut by_type: Vec<(String, Vec<NodeSpec>)> = Vec::new();
            for m in members {
                let n = gpu_nodes[m.as_str()];
                let spec = NodeSpec { name: n.name.clone(), accels: n.gpus as u8 };
                match by_type.iter_mut().find(|(t, _)| *t == n.gpu_type) {
                    Some((_, v)) => v.push(spec),
                    None => by_type.push((n.gpu_type.clone(), vec![spec])),
                }
            }
            let split = by_type.len() > 1 || switches.is_none();
            for (ty, nodes) in by_type {
                let name = if split && switches.is_some() {
                    format!("{block}-{ty}")
                } else if switches.is_none() {
                    ty.clone()
                } else {
                    block.clone()
                };
                p.blocks.push(BlockSpec { name, accel_type: ty, nodes });
            }
        }
        spec.pods.push(p);
    }
    Topology::new(spec).map_err(|e| ImportError::Invalid(format!("{}: {}", e.field, e.reason)))
}

/// The topology as a cluster file (`agora serve --cluster FILE` reads it back).
pub fn to_toml(t: &Topology) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = format!("name = {}\n", q(&t.name));
    for pod in &t.pods {
        out += &format!("\n[[pods]]\nname = {}\n", q(&pod.name));
        for b in pod.blocks.clone() {
            let block = &t.blocks[b as usize];
            out += &format!(
                "\n[[pods.blocks]]\nname = {}\naccel_type = {}\n",
                q(&block.name),
                q(&t.types[block.accel_type.idx()])
            );
            for n in t.block_nodes(agora_core::ids::BlockId(b)) {
                let node = &t.nodes[n.idx()];
                out += &format!("[[pods.blocks.nodes]]\nname = {}\naccelerators = {}\n", q(&node.name), node.accels);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, gres: &str) -> SlurmNode {
        let (gpus, gpu_type) = crate::v0038::parse_gres(gres);
        SlurmNode {
            name: name.into(),
            state: "idle".into(),
            flags: vec![],
            gpus,
            gpu_type,
            partitions: vec!["gpu".into()],
            reason: String::new(),
        }
    }

    #[test]
    fn switches_become_blocks_and_pods() {
        let conf = "# test\nSwitchName=s1 Nodes=n[1-3]\nSwitchName=s2 Nodes=n[4-6]\nSwitchName=s0 Switches=s[1-2]\n";
        let sw = parse_topology_conf(conf).unwrap();
        assert_eq!(sw.len(), 3);
        let mut nodes: Vec<SlurmNode> = (1..=6).map(|i| node(&format!("n{i}"), "gpu:h100:8")).collect();
        nodes.push(node("login", "(null)"));
        nodes.push(node("n7", "gpu:h100:8"));
        let t = import("lab", &nodes, &[], Some(&sw)).unwrap();
        assert_eq!(t.nodes.len(), 7, "the login node has no GPU");
        assert_eq!(t.pods.len(), 2);
        assert_eq!(t.pods[0].name, "s0");
        let names: Vec<&str> = t.blocks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["s1", "s2", "unswitched"]);
        // The cluster file it prints reads back to the same topology.
        let back = agora_config::parse_cluster(&to_toml(&t), "imported").unwrap();
        assert_eq!(to_toml(&back), to_toml(&t));
        assert_eq!(back.summary(), t.summary());
    }

    #[test]
    fn without_switches_each_type_is_a_block() {
        let nodes = vec![node("a1", "gpu:a100:4"), node("h1", "gpu:h100:8"), node("a2", "gpu:a100:4")];
        let t = import("mixed", &nodes, &[], None).unwrap();
        assert_eq!(t.blocks.len(), 2);
        assert_eq!(t.nodes.iter().map(|n| n.accels as u32).sum::<u32>(), 16);
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert!(matches!(import("x", &[node("c1", "")], &[], None), Err(ImportError::NoGpus)));
        assert!(matches!(import("x", &[node("big", "gpu:64")], &[], None), Err(ImportError::TooManyGpus { .. })));
        let e = parse_topology_conf("SwitchName=s1 Nodes=n[3-1]").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(parse_topology_conf("Nodes=n1").is_err());
    }
}
