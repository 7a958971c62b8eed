//! Responses of the dashboard's views (`/v1/whoami`, `/v1/map`,
//! `/v1/map/blocks/{i}`, `/v1/shares`): public API like the rest, scoped by
//! the caller's token. Compact by design: the site map of a 100k site is one
//! entry per node in flat arrays, not one object per node.

use crate::{JobState, Role};
use serde::{Deserialize, Serialize};

/// Who a token belongs to (`GET /v1/whoami`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhoAmI {
    pub user: String,
    pub role: Role,
    /// The tenant path the role applies to; empty for site-admin.
    pub scope: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapPod {
    pub name: String,
    pub first_block: u32,
    pub blocks: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapBlock {
    pub name: String,
    pub pod: u32,
    pub first_node: u32,
    pub nodes: u32,
    /// Index into `SiteMap::types`.
    pub accel_type: u32,
}

/// Every node of the site at once (`GET /v1/map`). Node `i` has `accels[i]`
/// accelerators, `used[i]` of them busy (any tenant's work), and state
/// `state[i]`: `u` up, `f` failed, `s` hot spare, `h` held for a reservation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteMap {
    pub name: String,
    pub time: u64,
    pub types: Vec<String>,
    pub pods: Vec<MapPod>,
    pub blocks: Vec<MapBlock>,
    pub accels: Vec<u8>,
    pub used: Vec<u8>,
    pub state: String,
    /// `[node, accelerators]` busy with jobs the caller may see.
    pub mine: Vec<[u32; 2]>,
    /// With `?job=ID`: the nodes that job holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_nodes: Option<Vec<u32>>,
}

/// A job on a node, as far as the caller may see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeJob {
    pub id: u64,
    pub name: String,
    pub project: String,
    pub user: String,
    pub state: JobState,
    /// Accelerators it holds on this node.
    pub accelerators: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeDetail {
    pub index: u32,
    pub name: String,
    pub accels: u8,
    pub used: u8,
    pub state: String,
    /// The caller's visible jobs on the node; other tenants' work counts in
    /// `used` only.
    pub jobs: Vec<NodeJob>,
}

/// One block and its nodes (`GET /v1/map/blocks/{index}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockDetail {
    pub index: u32,
    pub name: String,
    pub pod: String,
    pub nodes: Vec<NodeDetail>,
}

/// One tenant's delivered share over time against its entitlement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareSeries {
    pub path: String,
    pub level: String,
    /// The parent's path; absent for funders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<u64>,
    /// Nominal entitlement (accelerators) at each sample.
    pub entitlement: Vec<f64>,
    /// Accelerators allocated at each sample.
    pub allocated: Vec<u64>,
}

/// Samples of every visible tenant's allocation (`GET /v1/shares`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shares {
    /// Site time of each sample (seconds since the Unix epoch).
    pub times: Vec<u64>,
    pub tenants: Vec<ShareSeries>,
}
