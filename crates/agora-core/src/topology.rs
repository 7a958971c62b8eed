//! The cluster model: site → pod (spine) → block (NVLink domain or leaf group)
//! → node → accelerators.
//!
//! A `TopologySpec` is plain data (built by the config layer or by tests);
//! `Topology::new` validates it once and lays it out densely: nodes of a block
//! are contiguous, blocks of a pod are contiguous, so a domain is a range.
//! Invariants after `new`: every block has at least one node, all nodes of a
//! block share one accelerator type, every node has 1..=`MAX_NODE_ACCELS`
//! accelerators, and names are unique at their level.

use crate::ids::{BlockId, NodeId, PodId, TypeId};
use std::collections::HashSet;
use std::ops::Range;

/// The most accelerators one node may carry (one bit each in a `u16` mask).
pub const MAX_NODE_ACCELS: u8 = 16;

#[derive(Clone, Debug, Default)]
pub struct TopologySpec {
    pub name: String,
    pub pods: Vec<PodSpec>,
}

#[derive(Clone, Debug, Default)]
pub struct PodSpec {
    pub name: String,
    pub blocks: Vec<BlockSpec>,
}

#[derive(Clone, Debug, Default)]
pub struct BlockSpec {
    pub name: String,
    /// Accelerator type of every node in the block, e.g. "gb200".
    pub accel_type: String,
    pub nodes: Vec<NodeSpec>,
}

#[derive(Clone, Debug, Default)]
pub struct NodeSpec {
    pub name: String,
    pub accels: u8,
}

/// A validation failure that names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct TopologyError {
    pub field: String,
    pub reason: String,
}

fn err(field: String, reason: impl Into<String>) -> TopologyError {
    TopologyError { field, reason: reason.into() }
}

#[derive(Clone, Debug)]
pub struct Pod {
    pub name: String,
    pub blocks: Range<u32>,
    pub nodes: Range<u32>,
}

#[derive(Clone, Debug)]
pub struct Block {
    pub name: String,
    pub pod: PodId,
    pub accel_type: TypeId,
    pub nodes: Range<u32>,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub block: BlockId,
    pub pod: PodId,
    pub accels: u8,
}

/// A validated, densely laid out cluster.
#[derive(Clone, Debug)]
pub struct Topology {
    pub name: String,
    pub types: Vec<String>,
    pub pods: Vec<Pod>,
    pub blocks: Vec<Block>,
    pub nodes: Vec<Node>,
}

impl Topology {
    pub fn new(spec: TopologySpec) -> Result<Topology, TopologyError> {
        if spec.pods.is_empty() {
            return Err(err("pods".into(), "a site needs at least one pod"));
        }
        let mut types: Vec<String> = Vec::new();
        let mut pods = Vec::with_capacity(spec.pods.len());
        let mut blocks = Vec::new();
        let mut nodes = Vec::new();
        let mut pod_names = HashSet::new();
        let mut block_names = HashSet::new();
        let mut node_names = HashSet::new();
        for (pi, pod) in spec.pods.into_iter().enumerate() {
            let pf = format!("pods[{pi}]");
            if pod.name.is_empty() {
                return Err(err(format!("{pf}.name"), "must not be empty"));
            }
            if !pod_names.insert(pod.name.clone()) {
                return Err(err(format!("{pf}.name"), format!("pod `{}` is defined twice", pod.name)));
            }
            if pod.blocks.is_empty() {
                return Err(err(format!("{pf}.blocks"), format!("pod `{}` has no blocks", pod.name)));
            }
            let block_start = blocks.len() as u32;
            let pod_node_start = nodes.len() as u32;
            for (bi, block) in pod.blocks.into_iter().enumerate() {
                let bf = format!("{pf}.blocks[{bi}]");
                if block.name.is_empty() {
                    return Err(err(format!("{bf}.name"), "must not be empty"));
                }
                if !block_names.insert(block.name.clone()) {
                    return Err(err(format!("{bf}.name"), format!("block `{}` is defined twice", block.name)));
                }
                if block.accel_type.is_empty() {
                    return Err(err(format!("{bf}.accel_type"), "must not be empty"));
                }
                if block.nodes.is_empty() {
                    return Err(err(format!("{bf}.nodes"), format!("block `{}` has no nodes", block.name)));
                }
                let t = match types.iter().position(|t| *t == block.accel_type) {
                    Some(t) => t,
                    None => {
                        types.push(block.accel_type.clone());
                        types.len() - 1
                    }
                };
                let node_start = nodes.len() as u32;
                let block_id = BlockId(blocks.len() as u32);
                for (ni, node) in block.nodes.into_iter().enumerate() {
                    let nf = format!("{bf}.nodes[{ni}]");
                    if node.name.is_empty() {
                        return Err(err(format!("{nf}.name"), "must not be empty"));
                    }
                    if node.accels == 0 || node.accels > MAX_NODE_ACCELS {
                        return Err(err(
                            format!("{nf}.accelerators"),
                            format!("{} is out of range 1..={MAX_NODE_ACCELS}", node.accels),
                        ));
                    }
                    if !node_names.insert(node.name.clone()) {
                        return Err(err(format!("{nf}.name"), format!("node `{}` is defined twice", node.name)));
                    }
                    nodes.push(Node {
                        name: node.name,
                        block: block_id,
                        pod: PodId(pods.len() as u32),
                        accels: node.accels,
                    });
                }
                blocks.push(Block {
                    name: block.name,
                    pod: PodId(pods.len() as u32),
                    accel_type: TypeId(t as u32),
                    nodes: node_start..nodes.len() as u32,
                });
            }
            pods.push(Pod {
                name: pod.name,
                blocks: block_start..blocks.len() as u32,
                nodes: pod_node_start..nodes.len() as u32,
            });
        }
        Ok(Topology { name: spec.name, types, pods, blocks, nodes })
    }

    pub fn total_accels(&self) -> u64 {
        self.nodes.iter().map(|n| n.accels as u64).sum()
    }

    pub fn type_id(&self, name: &str) -> Option<TypeId> {
        self.types.iter().position(|t| t == name).map(|t| TypeId(t as u32))
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.idx()]
    }

    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name).map(|i| NodeId(i as u32))
    }

    pub fn block_nodes(&self, b: BlockId) -> impl Iterator<Item = NodeId> {
        self.blocks[b.idx()].nodes.clone().map(NodeId)
    }

    /// The largest node of a type (0 if the type has no nodes).
    pub fn max_node_accels(&self, t: TypeId) -> u8 {
        self.blocks
            .iter()
            .filter(|b| b.accel_type == t)
            .flat_map(|b| b.nodes.clone())
            .map(|n| self.nodes[n as usize].accels)
            .max()
            .unwrap_or(0)
    }

    pub fn summary(&self) -> String {
        let types: Vec<String> = self
            .types
            .iter()
            .enumerate()
            .map(|(t, name)| {
                let n: u64 = self
                    .blocks
                    .iter()
                    .filter(|b| b.accel_type.idx() == t)
                    .flat_map(|b| b.nodes.clone())
                    .map(|n| self.nodes[n as usize].accels as u64)
                    .sum();
                format!("{} {name}", crate::ids::thousands(n))
            })
            .collect();
        format!(
            "{}: {} accelerators ({}) on {} nodes in {} blocks and {} pods",
            self.name,
            crate::ids::thousands(self.total_accels()),
            types.join(", "),
            crate::ids::thousands(self.nodes.len() as u64),
            crate::ids::thousands(self.blocks.len() as u64),
            self.pods.len()
        )
    }
}

/// Builds regular topologies: `pods` × `blocks_per_pod` × `nodes_per_block`,
/// with the last pod possibly short so that exactly `blocks` blocks exist.
/// Used by presets and tests.
#[derive(Clone, Debug)]
pub struct Regular {
    pub name: String,
    pub accel_type: String,
    pub blocks: u32,
    pub blocks_per_pod: u32,
    pub nodes_per_block: u32,
    pub accels_per_node: u8,
    /// Nodes in the last block, if it is short (0 = full).
    pub last_block_nodes: u32,
}

impl Regular {
    pub fn spec(&self) -> TopologySpec {
        let per_pod = self.blocks_per_pod.max(1) as usize;
        let mut pods = Vec::new();
        let mut b = 0;
        while b < self.blocks {
            let p = pods.len();
            let mut pod = PodSpec { name: format!("pod{p:03}"), blocks: Vec::new() };
            while b < self.blocks && pod.blocks.len() < per_pod {
                let n = if b + 1 == self.blocks && self.last_block_nodes > 0 {
                    self.last_block_nodes
                } else {
                    self.nodes_per_block
                };
                pod.blocks.push(BlockSpec {
                    name: format!("p{p:03}b{b:04}"),
                    accel_type: self.accel_type.clone(),
                    nodes: (0..n)
                        .map(|i| NodeSpec { name: format!("p{p:03}b{b:04}n{i:02}"), accels: self.accels_per_node })
                        .collect(),
                });
                b += 1;
            }
            pods.push(pod);
        }
        TopologySpec { name: self.name.clone(), pods }
    }

    /// Validate and lay out; zero-sized parts are refused with the field.
    pub fn build(&self) -> Result<Topology, TopologyError> {
        for (field, v) in [
            ("blocks", self.blocks),
            ("blocks_per_pod", self.blocks_per_pod),
            ("nodes_per_block", self.nodes_per_block),
        ] {
            if v == 0 {
                return Err(err(format!("regular.{field}"), "must be at least 1"));
            }
        }
        Topology::new(self.spec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_node(accels: u8) -> TopologySpec {
        TopologySpec {
            name: "t".into(),
            pods: vec![PodSpec {
                name: "p".into(),
                blocks: vec![BlockSpec {
                    name: "b".into(),
                    accel_type: "h100".into(),
                    nodes: vec![NodeSpec { name: "n".into(), accels }],
                }],
            }],
        }
    }

    #[test]
    fn errors_name_the_field() {
        let e = Topology::new(one_node(0)).unwrap_err();
        assert_eq!(e.to_string(), "pods[0].blocks[0].nodes[0].accelerators: 0 is out of range 1..=16");
        let e = Topology::new(one_node(17)).unwrap_err();
        assert_eq!(e.field, "pods[0].blocks[0].nodes[0].accelerators");
        let mut s = one_node(8);
        s.pods[0].blocks[0].nodes.push(NodeSpec { name: "n".into(), accels: 8 });
        assert_eq!(
            Topology::new(s).unwrap_err().to_string(),
            "pods[0].blocks[0].nodes[1].name: node `n` is defined twice"
        );
        assert_eq!(Topology::new(TopologySpec::default()).unwrap_err().field, "pods");
    }

    #[test]
    fn regular_layout_is_dense() {
        let t = Regular {
            name: "x".into(),
            accel_type: "gpu".into(),
            blocks: 5,
            blocks_per_pod: 2,
            nodes_per_block: 4,
            accels_per_node: 8,
            last_block_nodes: 3,
        }
        .build()
        .unwrap();
        assert_eq!(t.pods.len(), 3);
        assert_eq!(t.blocks.len(), 5);
        assert_eq!(t.nodes.len(), 4 * 4 + 3);
        assert_eq!(t.total_accels(), 19 * 8);
        assert_eq!(t.pods[2].blocks, 4..5);
        assert_eq!(t.blocks[4].nodes, 16..19);
        assert_eq!(t.nodes[18].pod, PodId(2));
    }
}
