//! `/_ping`, `/version` and `/info`.

use super::http::Request;
use super::Out;
use crate::engine::system::SystemInfoJob;
use crate::engine::Engine;
use crate::error::Result;
use crate::version::{API_VERSION, GIT_COMMIT, MIN_API_VERSION, VERSION};
use serde_json::json;

/// `GET|HEAD /_ping`: "OK" with the version headers the CLI negotiates from.
pub fn ping(_req: &Request, out: &mut Out) -> Result<()> {
    out.send(
        200,
        &[
            ("Cache-Control", "no-cache, no-store, must-revalidate"),
            ("Pragma", "no-cache"),
            ("Content-Type", "text/plain; charset=utf-8"),
        ],
        b"OK",
    )
}

pub fn version(out: &mut Out) -> Result<()> {
    let h = crate::engine::system::host_facts();
    let arch = crate::engine::images::host_architecture();
    let built = "";
    out.json(
        200,
        &json!({
            "Platform": { "Name": "berth" },
            "Components": [{
                "Name": "Engine",
                "Version": VERSION,
                "Details": {
                    "ApiVersion": API_VERSION,
                    "Arch": arch,
                    "BuildTime": built,
                    "Experimental": "false",
                    "GitCommit": GIT_COMMIT,
                    "GoVersion": "n/a (rust)",
                    "KernelVersion": h.kernel_version,
                    "MinAPIVersion": MIN_API_VERSION,
                    "Os": "linux"
                }
            }],
            "Version": VERSION,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": GIT_COMMIT,
            "GoVersion": "n/a (rust)",
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": h.kernel_version,
            "BuildTime": built
        }),
    )
}

pub fn info(e: &Engine, out: &mut Out) -> Result<()> {
    let i = e.run(SystemInfoJob)?;
    out.json(
        200,
        &json!({
            "ID": "",
            "Containers": i.containers,
            "ContainersRunning": i.running,
            "ContainersPaused": i.paused,
            "ContainersStopped": i.stopped,
            "Images": i.images,
            "Driver": i.driver,
            "DriverStatus": i.driver_status.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
            "Plugins": { "Volume": [], "Network": ["host", "null"], "Authorization": null, "Log": ["json-file"] },
            "MemoryLimit": false,
            "SwapLimit": false,
            "KernelMemory": false,
            "KernelMemoryTCP": false,
            "CpuCfsPeriod": false,
            "CpuCfsQuota": false,
            "CPUShares": false,
            "CPUSet": false,
            "PidsLimit": false,
            "IPv4Forwarding": false,
            "BridgeNfIptables": false,
            "BridgeNfIp6tables": false,
            "Debug": crate::util::log::enabled(crate::util::log::Level::Debug),
            "NFd": open_fds(),
            "OomKillDisable": false,
            "NGoroutines": 0,
            "SystemTime": crate::util::time::rfc3339_nanos(crate::util::time::now_nanos()),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": i.cgroup_version,
            "NEventsListener": 0,
            "KernelVersion": i.kernel_version,
            "OperatingSystem": i.operating_system,
            "OSVersion": i.os_version,
            "OSType": "linux",
            "Architecture": i.architecture,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "AllowNondistributableArtifactsCIDRs": [],
                "AllowNondistributableArtifactsHostnames": [],
                "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                "IndexConfigs": {},
                "Mirrors": []
            },
            "NCPU": i.ncpu,
            "MemTotal": i.mem_total,
            "GenericResources": null,
            "DockerRootDir": i.data_root,
            "HttpProxy": "",
            "HttpsProxy": "",
            "NoProxy": "",
            "Name": i.hostname,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": VERSION,
            "Runtimes": { "berth": { "path": "berth monitor" } },
            "DefaultRuntime": "berth",
            "Swarm": { "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null },
            "LiveRestoreEnabled": true,
            "Isolation": "",
            "InitBinary": "",
            "ContainerdCommit": { "ID": "", "Expected": "" },
            "RuncCommit": { "ID": "", "Expected": "" },
            "InitCommit": { "ID": "", "Expected": "" },
            "SecurityOptions": [],
            "Warnings": null
        }),
    )
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}
