//! Built-in sites: two 100k-accelerator gigafactory shapes, and machines sized
//! for replaying public traces (Lingjun, Philly, KTH SP2).
//!
//! Presets are valid by construction (the tests build every one), so
//! `preset` returns an `Option`, not an error.

use agora_core::topology::{BlockSpec, NodeSpec, PodSpec, Regular, TopologySpec};
use agora_core::Topology;
use std::collections::BTreeMap;

/// (name, one-line description) of every preset.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "gigafactory-100k-nvl72",
        "100,008 gb200: 1,389 NVL72 blocks (one NVLink domain each) of 18 nodes x 4, 32 blocks per pod",
    ),
    (
        "gigafactory-100k-hgx",
        "100,000 h100: 12,500 HGX nodes x 8 in 32-node scalable units (the last has 20), 16 units per pod",
    ),
    (
        "lingjun",
        "Alibaba Lingjun 2023, the real 847-host Clos: pods = 3 PSW, blocks = 119 ToR groups; 8 GPUs per host assumed",
    ),
    (
        "philly",
        "Microsoft Philly 2017 machine list: 231 x 8-GPU (24 GB) + 321 x 2-GPU (12 GB) = 2,490 GPUs; 16-server racks assumed",
    ),
    ("kth-sp2", "IBM SP2 at KTH 1996-97 (Parallel Workloads Archive): 100 nodes x 1 processor, blocks of 20"),
];

/// The preset called `name` (see `PRESETS`).
pub fn preset(name: &str) -> Option<Topology> {
    let spec = match name {
        "gigafactory-100k-nvl72" => Regular {
            name: name.into(),
            accel_type: "gb200".into(),
            blocks: 1_389,
            blocks_per_pod: 32,
            nodes_per_block: 18,
            accels_per_node: 4,
            last_block_nodes: 0,
        }
        .spec(),
        "gigafactory-100k-hgx" => Regular {
            name: name.into(),
            accel_type: "h100".into(),
            blocks: 391,
            blocks_per_pod: 16,
            nodes_per_block: 32,
            accels_per_node: 8,
            last_block_nodes: 20,
        }
        .spec(),
        "lingjun" => lingjun(),
        "philly" => philly(),
        "kth-sp2" => Regular {
            name: name.into(),
            accel_type: "sp2-cpu".into(),
            blocks: 5,
            blocks_per_pod: 5,
            nodes_per_block: 20,
            accels_per_node: 1,
            last_block_nodes: 0,
        }
        .spec(),
        _ => return None,
    };
    Some(Topology::new(spec).expect("presets are valid by construction"))
}

/// `ip,DSW,PSW,ASW` for each of Lingjun's 847 hosts; see `data/README.md`.
const LINGJUN_TOPO: &str = include_str!("../data/lingjun_topo.csv");

/// GPUs per Lingjun host. The dataset does not say; 8 is the standard
/// server of such clusters and matches its jobs' sizes (median 8 GPUs).
const LINGJUN_GPUS_PER_HOST: u8 = 8;

/// Lingjun's three-layer Clos as it is: DSW (core, one for all hosts) is the
/// site, each PSW (aggregation) switch a pod, each ASW (ToR) group under a PSW
/// a block. Switches sort by number (P8 before P10); hosts keep file order.
/// A node is named by the first 12 hex digits of its hashed ip (unique).
fn lingjun() -> TopologySpec {
    // "P10" -> (10, "P10"), so that switches sort by number.
    let key = |s: &str| {
        (s.trim_start_matches(|c: char| c.is_ascii_alphabetic()).parse::<u32>().unwrap_or(u32::MAX), s.to_string())
    };
    let mut pods: BTreeMap<_, BTreeMap<_, Vec<&str>>> = BTreeMap::new();
    for line in LINGJUN_TOPO.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let [ip, _dsw, psw, asw] = f[..] else { panic!("data/lingjun_topo.csv: bad row `{line}`") };
        pods.entry(key(psw)).or_default().entry(key(asw)).or_default().push(&ip[..12]);
    }
    TopologySpec {
        name: "lingjun".into(),
        pods: pods
            .into_iter()
            .map(|((_, psw), blocks)| PodSpec {
                blocks: blocks
                    .into_iter()
                    .map(|((_, asw), hosts)| BlockSpec {
                        name: format!("{psw}-{asw}"),
                        accel_type: "gpu".into(),
                        nodes: hosts
                            .into_iter()
                            .map(|h| NodeSpec { name: h.into(), accels: LINGJUN_GPUS_PER_HOST })
                            .collect(),
                    })
                    .collect(),
                name: psw,
            })
            .collect(),
    }
}

/// Philly as its published machine list (msr-fiddle/philly-traces
/// `cluster_machine_list`) gives it: 552 servers, 231 with 8 GPUs of 24 GB and
/// 321 with 2 GPUs of 12 GB, 2,490 GPUs. The GPU models are not published, so
/// the types are named by memory. Assumed, since Philly's network layout is
/// not public: racks (blocks) of 16 servers, so one rack of 8-GPU servers
/// holds the trace's largest job (128 GPUs), and pods of 8 racks, one type per
/// pod. Caveat: the job log places some 8-GPU jobs on servers the list
/// gives 2 GPUs (philly-traces issue #8); the list is used as published.
fn philly() -> TopologySpec {
    let part = |tag: &str, accel_type: &str, servers: u32, accels: u8| {
        let mut pods = Regular {
            name: String::new(),
            accel_type: accel_type.into(),
            blocks: servers.div_ceil(16),
            blocks_per_pod: 8,
            nodes_per_block: 16,
            accels_per_node: accels,
            last_block_nodes: servers % 16,
        }
        .spec()
        .pods;
        // Regular's names restart at pod000 for each part; tag them apart.
        for p in &mut pods {
            p.name = format!("{tag}-{}", p.name);
            for b in &mut p.blocks {
                b.name = format!("{tag}-{}", b.name);
                for n in &mut b.nodes {
                    n.name = format!("{tag}-{}", n.name);
                }
            }
        }
        pods
    };
    let mut pods = part("g8", "gpu-24gb", 231, 8);
    pods.extend(part("g2", "gpu-12gb", 321, 2));
    TopologySpec { name: "philly".into(), pods }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// (accelerators, nodes, blocks, pods) of a preset.
    fn check(name: &str, expected: (u64, usize, usize, usize)) {
        let t = preset(name).unwrap();
        assert_eq!((t.total_accels(), t.nodes.len(), t.blocks.len(), t.pods.len()), expected, "{name}");
        let names: HashSet<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names.len(), t.nodes.len(), "{name}: node names are unique");
    }

    #[test]
    fn every_preset_has_its_size() {
        check("gigafactory-100k-nvl72", (100_008, 25_002, 1_389, 44));
        check("gigafactory-100k-hgx", (100_000, 12_500, 391, 25));
        check("lingjun", (6_776, 847, 119, 3));
        check("philly", (2_490, 552, 36, 5));
        check("kth-sp2", (100, 100, 5, 1));
        assert_eq!(PRESETS.len(), 5);
        assert!(PRESETS.iter().all(|(name, _)| preset(name).is_some()));
        assert!(preset("nope").is_none());
    }

    #[test]
    fn presets_have_their_shape() {
        let t = preset("gigafactory-100k-nvl72").unwrap();
        assert!(t.blocks.iter().all(|b| b.nodes.len() == 18));
        assert_eq!(t.pods[43].blocks.len(), 1_389 - 43 * 32);
        let t = preset("gigafactory-100k-hgx").unwrap();
        assert_eq!(t.blocks[390].nodes.len(), 20);
        assert_eq!(t.pods[24].blocks.len(), 391 - 24 * 16);
        let t = preset("lingjun").unwrap();
        let pods: Vec<_> = t.pods.iter().map(|p| (p.name.as_str(), p.nodes.len())).collect();
        assert_eq!(pods, [("P8", 179), ("P10", 362), ("P12", 306)]);
        assert_eq!(t.nodes[0].name.len(), 12);
        assert_eq!(t.blocks[0].name, "P8-S1");
        let t = preset("philly").unwrap();
        assert_eq!(t.types, ["gpu-24gb", "gpu-12gb"]);
        assert_eq!(t.max_node_accels(t.type_id("gpu-24gb").unwrap()) as usize * 16, 128);
    }
}
