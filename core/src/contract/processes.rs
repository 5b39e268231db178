//! `GET /apps/{app}/processes`: the app's instances as their supervising
//! worker last saw them.

pub use crate::domain::ProcessStatus;
use crate::domain::{ReleaseId, ServiceName};
use crate::store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One instance of an app, and where it listens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Process {
    /// The instance id: `<service>-<release>-<suffix>`.
    pub id: String,
    pub service: ServiceName,
    pub release: ReleaseId,
    pub status: ProcessStatus,
    /// How often the worker restarted this service's instances since they
    /// last ran steadily.
    pub restarts: u32,
    /// Where it listens on the worker's machine (127.0.0.1), if it has a port.
    #[schema(minimum = 1)]
    #[schema(required = true)]
    pub port: Option<u16>,
    pub started_at: DateTime<Utc>,
    /// `127.0.0.1:<port>`: the local runtime's instances listen on the
    /// loopback interface of their worker's machine; null without a port.
    #[schema(required = true)]
    pub address: Option<String>,
}

impl From<store::Process> for Process {
    fn from(p: store::Process) -> Process {
        Process {
            address: p.port.map(|port| format!("127.0.0.1:{port}")),
            id: p.id,
            service: p.service,
            release: p.release,
            status: p.status,
            restarts: p.restarts,
            port: p.port,
            started_at: p.started_at,
        }
    }
}

/// `GET /apps/{app}/processes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProcessList {
    pub processes: Vec<Process>,
}

impl From<Vec<store::Process>> for ProcessList {
    fn from(list: Vec<store::Process>) -> ProcessList {
        ProcessList {
            processes: list.into_iter().map(Process::from).collect(),
        }
    }
}
