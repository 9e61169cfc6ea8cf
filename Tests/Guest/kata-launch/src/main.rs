//! A model of how kata-agent starts the attestation agent in a guest, written
//! for the guest test from the rules of kata-containers' composable VM images
//! (docs/design/composable-vm-images.md; src/agent/src/main.rs and
//! guest_extension_image.rs as of 2026). It shares no code with kata or with
//! the agent. The rules it applies:
//!
//! - A CoCo extension is mounted when /run/kata-extensions/coco exists; it
//!   must then hold etc/kata-extensions/components.toml with schema_version
//!   1, else nothing is launched. Without the extension the built-in plan
//!   starts /usr/local/bin/attestation-agent (the monolithic layout).
//! - The context: kata's socket and config paths, `launch_process_timeout`
//!   (6), `initdata_toml_path` (set only when initdata was delivered),
//!   `extension_root`, `ocicrypt_config_path` (the manifest's
//!   "ocicrypt-config", which must be declared when the extension is
//!   mounted), and `attester_variant` from KATA_ATTESTER_VARIANT, else
//!   "default".
//! - Every `${name}` in a path, argument, config, env value, socket or
//!   timeout is replaced from the context; an unknown name is an error.
//! - Processes of level 1 to the maximum level launch, in order. A process's
//!   variant is the one `select` names ("default" when empty); its path
//!   replaces the process's, its args follow the process's, its env
//!   overrides. `optional_args` join when their `when` variable is non-empty.
//!   Paths must stay inside the extension.
//! - `-c CONFIG` is appended only when the file exists; a socket file left
//!   over is removed before the spawn; the environment is kata's own plus
//!   the process's; then the socket is polled once a second, up to
//!   `timeout_secs` more times after the first, else the launch fails.
//!
//! Usage: kata-launch [--extensions-root DIR] [--max-level N] [--log FILE] [--dry-run]
//! Prints `key process value` lines: the plan (plan-path, plan-args,
//! plan-env) and, unless --dry-run, launch-args (with `-c`), launch-pid and
//! launch-socket-ms; or `error MESSAGE` (exit status 1).

use serde::Deserialize;
use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INITDATA_DIR: &str = "/run/confidential-containers/initdata";
const AA_SOCKET: &str = "/run/confidential-containers/attestation-agent/attestation-agent.sock";
const LEGACY_AA: &str = "/usr/local/bin/attestation-agent";
const LEGACY_OCICRYPT: &str = "/etc/ocicrypt_config.json";
const LAUNCH_TIMEOUT: u64 = 6;

#[derive(Deserialize)]
struct Manifest {
    schema_version: u32,
    #[serde(default)]
    paths: HashMap<String, String>,
    #[serde(default)]
    process: Vec<Process>,
}

#[derive(Deserialize)]
struct Process {
    id: String,
    #[serde(default)]
    level: u32,
    path: Option<String>,
    select: Option<String>,
    #[serde(default)]
    variants: HashMap<String, Variant>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    optional_args: Vec<Optional>,
    config: Option<String>,
    #[serde(default)]
    env: HashMap<String, String>,
    wait_socket: Option<String>,
    timeout_secs: Option<String>,
}

#[derive(Deserialize)]
struct Optional {
    when: String,
    args: Vec<String>,
}

#[derive(Deserialize, Default)]
struct Variant {
    path: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: HashMap<String, String>,
}

/// One process to start, everything resolved.
struct Launch {
    id: String,
    path: PathBuf,
    args: Vec<String>,
    config: Option<String>,
    env: Vec<(String, String)>,
    socket: Option<String>,
    timeout: u64,
}

type Context = HashMap<String, String>;

fn fill(text: &str, context: &Context) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or(format!("'{text}' has an unterminated ${{"))?;
        let name = &after[..end];
        out.push_str(context.get(name).ok_or(format!("unknown substitution variable '{name}'"))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `relative` under `root`, refusing `..` and anything that leaves it.
fn inside(root: &Path, relative: &str) -> Result<PathBuf, String> {
    let relative = relative.trim();
    if relative.is_empty() || Path::new(relative).components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("path '{relative}' is not inside the extension"));
    }
    Ok(root.join(relative.trim_start_matches('/')))
}

fn non_empty(value: String) -> Option<String> {
    if value.is_empty() { None } else { Some(value) }
}

fn resolve(root: &Path, process: &Process, context: &Context) -> Result<Launch, String> {
    let variant = if process.variants.is_empty() {
        None
    } else {
        let mut name = match &process.select {
            Some(select) => fill(select, context)?,
            None => String::new(),
        };
        if name.is_empty() {
            name = "default".into();
        }
        Some(process.variants.get(&name).ok_or(format!("process '{}' has no variant '{name}'", process.id))?)
    };
    let path = variant
        .and_then(|v| v.path.as_ref())
        .or(process.path.as_ref())
        .ok_or(format!("process '{}' has no path", process.id))?;
    let path = inside(root, &fill(path, context)?)?;
    let mut args = Vec::new();
    for arg in &process.args {
        args.push(fill(arg, context)?);
    }
    for group in &process.optional_args {
        if context.get(&group.when).map_or(false, |v| !v.is_empty()) {
            for arg in &group.args {
                args.push(fill(arg, context)?);
            }
        }
    }
    let mut env = HashMap::new();
    for (key, value) in &process.env {
        env.insert(key.clone(), fill(value, context)?);
    }
    if let Some(variant) = variant {
        for arg in &variant.args {
            args.push(fill(arg, context)?);
        }
        for (key, value) in &variant.env {
            env.insert(key.clone(), fill(value, context)?);
        }
    }
    let mut env: Vec<(String, String)> = env.into_iter().collect();
    env.sort();
    let config = match &process.config { Some(c) => non_empty(fill(c, context)?), None => None };
    let socket = match &process.wait_socket { Some(s) => non_empty(fill(s, context)?), None => None };
    let timeout = match &process.timeout_secs {
        Some(t) => match fill(t, context)?.as_str() {
            "" => 0,
            t => t.parse().map_err(|_| format!("timeout_secs '{t}' of '{}' is not a number", process.id))?,
        },
        None => 0,
    };
    Ok(Launch { id: process.id.clone(), path, args, config, env, socket, timeout })
}

fn plan(extensions_root: &Path, max_level: u32) -> Result<Vec<Launch>, String> {
    let initdata = format!("{INITDATA_DIR}/initdata.toml");
    let mut context: Context = [
        ("aa_attestation_uri", format!("unix://{AA_SOCKET}")),
        ("aa_attestation_socket", AA_SOCKET.to_string()),
        ("aa_config_path", format!("{INITDATA_DIR}/aa.toml")),
        ("cdh_config_path", format!("{INITDATA_DIR}/cdh.toml")),
        ("cdh_socket", "/run/confidential-containers/cdh.sock".to_string()),
        ("rest_api_features", "resource".to_string()),
        ("launch_process_timeout", LAUNCH_TIMEOUT.to_string()),
        ("initdata_toml_path", if Path::new(&initdata).exists() { initdata.clone() } else { String::new() }),
        ("attester_variant", std::env::var("KATA_ATTESTER_VARIANT").ok().filter(|v| !v.is_empty()).unwrap_or("default".into())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let root = extensions_root.join("coco");
    context.insert("extension_root".into(), root.to_string_lossy().into_owned());
    if !root.exists() {
        context.insert("ocicrypt_config_path".into(), LEGACY_OCICRYPT.into());
        if max_level < 1 {
            return Ok(vec![]);
        }
        let mut args = vec!["--attestation_sock".to_string(), context["aa_attestation_uri"].clone()];
        if !context["initdata_toml_path"].is_empty() {
            args.extend(["--initdata-toml".to_string(), initdata]);
        }
        return Ok(vec![Launch {
            id: "attestation-agent".into(),
            path: LEGACY_AA.into(),
            args,
            config: Some(context["aa_config_path"].clone()),
            env: vec![],
            socket: Some(AA_SOCKET.into()),
            timeout: LAUNCH_TIMEOUT,
        }]);
    }
    let file = root.join("etc/kata-extensions/components.toml");
    let text = fs::read_to_string(&file).map_err(|e| format!("the extension is mounted but {}: {e}", file.display()))?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| format!("{} does not parse: {e}", file.display()))?;
    if manifest.schema_version != 1 {
        return Err(format!("unsupported manifest schema_version {}", manifest.schema_version));
    }
    let ocicrypt = manifest.paths.get("ocicrypt-config").ok_or("the manifest declares no 'ocicrypt-config' path")?;
    context.insert("ocicrypt_config_path".into(), inside(&root, ocicrypt)?.to_string_lossy().into_owned());
    manifest
        .process
        .iter()
        .filter(|p| p.level >= 1 && p.level <= max_level)
        .map(|p| resolve(&root, p, &context))
        .collect()
}

/// Starts `spec` as kata-agent does; prints the arguments it was given.
fn launch(spec: &Launch, log: Option<&str>) -> Result<(u32, Option<u128>), String> {
    if !spec.path.exists() {
        return Err(format!("{} does not exist", spec.path.display()));
    }
    let mut args = spec.args.clone();
    if let Some(config) = &spec.config {
        if Path::new(config).exists() {
            args.extend(["-c".to_string(), config.clone()]);
        }
    }
    if let Some(socket) = &spec.socket {
        if Path::new(socket).exists() {
            fs::remove_file(socket).map_err(|e| format!("cannot remove the stale {socket}: {e}"))?;
        }
    }
    println!("launch-args {} {}", spec.id, args.join(" "));
    let mut command = Command::new(&spec.path);
    command.args(&args).envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(log) = log {
        let file = File::options().create(true).append(true).open(log).map_err(|e| format!("{log}: {e}"))?;
        command.stdout(Stdio::from(file.try_clone().map_err(|e| e.to_string())?)).stderr(Stdio::from(file));
    }
    let started = Instant::now();
    let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", spec.path.display()))?;
    let Some(socket) = spec.socket.as_ref().filter(|_| spec.timeout > 0) else {
        return Ok((child.id(), None));
    };
    let mut attempts = 0;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        if Path::new(socket).exists() {
            return Ok((child.id(), Some(started.elapsed().as_millis())));
        }
        if attempts >= spec.timeout {
            return Err(format!("{socket} did not appear within {} s", spec.timeout));
        }
        attempts += 1;
    }
}

fn run() -> Result<(), String> {
    let mut arguments = std::env::args().skip(1);
    let (mut root, mut max_level, mut log, mut dry_run) = ("/run/kata-extensions".to_string(), 1, None, false);
    while let Some(flag) = arguments.next() {
        match flag.as_str() {
            "--extensions-root" => root = arguments.next().ok_or("--extensions-root DIR")?,
            "--max-level" => max_level = arguments.next().and_then(|n| n.parse().ok()).ok_or("--max-level N")?,
            "--log" => log = Some(arguments.next().ok_or("--log FILE")?),
            "--dry-run" => dry_run = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    for spec in plan(Path::new(&root), max_level)? {
        println!("plan-path {} {}", spec.id, spec.path.display());
        println!("plan-args {} {}", spec.id, spec.args.join(" "));
        let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("plan-env {} {}", spec.id, env.join(" "));
        if dry_run {
            continue;
        }
        let (pid, waited) = launch(&spec, log.as_deref())?;
        println!("launch-pid {} {pid}", spec.id);
        if let Some(ms) = waited {
            println!("launch-socket-ms {} {ms}", spec.id);
        }
    }
    Ok(())
}

fn main() {
    if let Err(message) = run() {
        println!("error {message}");
        std::process::exit(1);
    }
}
