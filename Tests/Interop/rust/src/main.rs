//! aa-peer-rust: the Rust ttrpc crate (0.5.2, async) speaking the
//! attestation-agent service, as a client and as a server.
//!
//!   aa-peer-rust client SOCKET_PATH  < commands    one call per line, one result per line
//!   aa-peer-rust serve SOCKET_PATH                 the sample TEE's answers
//!   aa-peer-rust load SOCKET_PATH METHOD|Mixed CONNECTIONS SECONDS
//!                                                  calls METHOD (GetTeeType, GetStatus or
//!                                                  GetEvidence) back to back on each connection;
//!                                                  prints calls, calls/s and latency percentiles
//!   aa-peer-rust count SOCKET_PATH METHOD CALLS    exactly CALLS calls on one connection, back to
//!                                                  back (a fixed amount of work for instruction
//!                                                  and allocation counts); prints calls
//!
//! Commands and results are those of the Go peer (../README.md).
//! ttrpc 0.5.2 reads `unix://` as an abstract socket, so this peer opens the
//! filesystem socket itself and hands the descriptor to the crate.

#[allow(warnings, dead_code, non_camel_case_types, non_snake_case, non_upper_case_globals, unused_imports, unused_results)]
mod attestation_agent {
    include!(concat!(env!("OUT_DIR"), "/attestation_agent.rs"));
}

use attestation_agent as aa;
use async_trait::async_trait;
use protobuf::{Message, RepeatedField};
use std::collections::HashMap;
use std::io::BufRead;
use std::os::unix::io::IntoRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use ttrpc::r#async::{Client, MethodHandler, Server, TtrpcContext};
use ttrpc::Code;

const SERVICE: &str = "attestation_agent.AttestationAgentService";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

fn unhex(text: Option<&str>) -> Vec<u8> {
    match text {
        None | Some("-") => vec![],
        Some(t) => (0..t.len()).step_by(2).map(|i| u8::from_str_radix(&t[i..i + 2], 16).expect("hex")).collect(),
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let values: Vec<u32> = text.bytes().filter(|&c| c != b'=')
        .map(|c| alphabet.iter().position(|&a| a == c).expect("base64") as u32).collect();
    let mut out = vec![];
    for chunk in values.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, v)| acc | v << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

fn base64_encode(bytes: &[u8]) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { alphabet[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// One unary call as the generated client code does it, with a deadline like kata-agent's.
async fn call<Res: Message>(client: &mut Client, method: &str, req: &dyn Message) -> Result<Res, ttrpc::Error> {
    let mut creq = ttrpc::Request::new();
    creq.set_service(SERVICE.to_string());
    creq.set_method(method.to_string());
    creq.set_timeout_nano(10_000_000_000);
    creq.set_payload(req.write_to_bytes().map_err(|e| ttrpc::Error::Others(e.to_string()))?);
    let res = client.request(creq).await?;
    Res::parse_from_bytes(&res.payload).map_err(|e| ttrpc::Error::Others(e.to_string()))
}

async fn run_command(client: &mut Client, args: &[&str]) -> Result<String, ttrpc::Error> {
    Ok(match args[0] {
        "GetTeeType" => {
            let r: aa::GetTeeTypeResponse = call(client, args[0], &aa::GetTeeTypeRequest::new()).await?;
            format!(" tee={}", r.tee)
        }
        "GetAdditionalTees" => {
            let r: aa::GetAdditionalTeesResponse = call(client, args[0], &aa::GetAdditionalTeesRequest::new()).await?;
            format!(" additional_tees={}", r.additional_tees.to_vec().join(","))
        }
        "GetStatus" => {
            let r: aa::GetStatusResponse = call(client, args[0], &aa::GetStatusRequest::new()).await?;
            format!(" state={} binding={} tee={} config_source={} init_data_digest={}",
                    r.state, r.binding, r.tee, r.config_source, r.init_data_digest)
        }
        "GetEvidence" => {
            let mut req = aa::GetEvidenceRequest::new();
            req.set_RuntimeData(unhex(args.get(1).copied()));
            let r: aa::GetEvidenceResponse = call(client, args[0], &req).await?;
            format!(" evidence={}", hex(&r.Evidence))
        }
        "GetAdditionalEvidence" => {
            let mut req = aa::GetAdditionalEvidenceRequest::new();
            req.set_RuntimeData(unhex(args.get(1).copied()));
            let r: aa::GetEvidenceResponse = call(client, args[0], &req).await?;
            format!(" evidence={}", hex(&r.Evidence))
        }
        "GetToken" => {
            let mut req = aa::GetTokenRequest::new();
            req.set_TokenType(args[1].to_string());
            let r: aa::GetTokenResponse = call(client, args[0], &req).await?;
            format!(" token={}", hex(&r.Token))
        }
        "ExtendRuntimeMeasurement" => {
            let mut req = aa::ExtendRuntimeMeasurementRequest::new();
            req.set_Domain(args[1].to_string());
            req.set_Operation(args[2].to_string());
            req.set_Content(args[3].to_string());
            if let Some(index) = args.get(4) {
                req.set_RegisterIndex(index.parse().expect("index"));
            }
            let r: aa::ExtendRuntimeMeasurementResponse = call(client, args[0], &req).await?;
            format!(" result={:?}", r.Result)
        }
        "BindInitData" => {
            let mut req = aa::BindInitDataRequest::new();
            req.set_Digest(unhex(args.get(1).copied()));
            let _: aa::BindInitDataResponse = call(client, args[0], &req).await?;
            String::new()
        }
        "CheckInitData" => {
            let mut req = aa::CheckInitDataRequest::new();
            req.set_Digest(unhex(args.get(1).copied()));
            let _: aa::CheckInitDataResponse = call(client, args[0], &req).await?;
            String::new()
        }
        "UpdateConfiguration" => {
            let mut req = aa::UpdateConfigurationRequest::new();
            req.set_config(String::from_utf8(base64_decode(args[1])).expect("utf-8"));
            let _: aa::UpdateConfigurationResponse = call(client, args[0], &req).await?;
            String::new()
        }
        other => return Err(ttrpc::Error::RpcStatus(ttrpc::get_status(Code::INVALID_ARGUMENT, format!("unknown command {}", other)))),
    })
}

async fn run_client(path: &str) {
    let stream = UnixStream::connect(path).expect("connect");
    let mut client = Client::new(stream.into_raw_fd());
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.expect("stdin");
        let args: Vec<&str> = line.split_whitespace().collect();
        if args.is_empty() {
            continue;
        }
        match run_command(&mut client, &args).await {
            Ok(result) => println!("OK {}{}", args[0], result),
            Err(ttrpc::Error::RpcStatus(status)) => {
                println!("ERR {} {} {}", args[0], status.get_code() as i32, status.get_message())
            }
            Err(other) => println!("ERR {} -1 {:?}", args[0], other),
        }
    }
}

/// The sample TEE's answers, as the generated server code would dispatch them.
fn answer(method: &str, payload: &[u8]) -> Result<Vec<u8>, ttrpc::Status> {
    let invalid = |e: protobuf::ProtobufError| ttrpc::get_status(Code::INVALID_ARGUMENT, e.to_string());
    let bytes = |m: &dyn Message| m.write_to_bytes().map_err(invalid);
    match method {
        "GetTeeType" => {
            let mut r = aa::GetTeeTypeResponse::new();
            r.set_tee("sample".to_string());
            bytes(&r)
        }
        "GetAdditionalTees" => {
            let mut r = aa::GetAdditionalTeesResponse::new();
            r.set_additional_tees(RepeatedField::from_vec(vec!["rust-peer".to_string()]));
            bytes(&r)
        }
        "GetStatus" => {
            let mut r = aa::GetStatusResponse::new();
            r.set_state("Configured".to_string());
            r.set_binding("matched".to_string());
            r.set_tee("sample".to_string());
            r.set_config_source("update".to_string());
            bytes(&r)
        }
        "GetEvidence" => {
            let req = aa::GetEvidenceRequest::parse_from_bytes(payload).map_err(invalid)?;
            let mut r = aa::GetEvidenceResponse::new();
            let json = format!("{{\"svn\":\"1\",\"report_data\":\"{}\"}}", base64_encode(&req.RuntimeData));
            r.set_Evidence(json.into_bytes());
            bytes(&r)
        }
        "GetAdditionalEvidence" => bytes(&aa::GetEvidenceResponse::new()),
        "GetToken" => {
            let req = aa::GetTokenRequest::parse_from_bytes(payload).map_err(invalid)?;
            if req.TokenType != "kbs" {
                return Err(ttrpc::get_status(Code::INVALID_ARGUMENT, format!("unknown token type {}", req.TokenType)));
            }
            let mut r = aa::GetTokenResponse::new();
            r.set_Token(b"{\"token\":\"rust-peer-token\",\"tee_keypair\":\"\"}".to_vec());
            bytes(&r)
        }
        "ExtendRuntimeMeasurement" => {
            let req = aa::ExtendRuntimeMeasurementRequest::parse_from_bytes(payload).map_err(invalid)?;
            let mut r = aa::ExtendRuntimeMeasurementResponse::new();
            r.set_Result(if req.has_RegisterIndex() {
                aa::RuntimeMeasurementResult::NOT_ENABLED
            } else {
                aa::RuntimeMeasurementResult::NOT_SUPPORTED
            });
            bytes(&r)
        }
        "BindInitData" => {
            let req = aa::BindInitDataRequest::parse_from_bytes(payload).map_err(invalid)?;
            if req.Digest.is_empty() {
                return Err(ttrpc::get_status(Code::PERMISSION_DENIED, "empty digest"));
            }
            bytes(&aa::BindInitDataResponse::new())
        }
        "CheckInitData" => bytes(&aa::CheckInitDataResponse::new()),
        "UpdateConfiguration" => bytes(&aa::UpdateConfigurationResponse::new()),
        _ => Err(ttrpc::get_status(Code::UNIMPLEMENTED, format!("method {}", method))),
    }
}

struct SampleMethod(&'static str);

#[async_trait]
impl MethodHandler for SampleMethod {
    async fn handler(&self, ctx: TtrpcContext, req: ttrpc::Request) -> ttrpc::Result<(u32, Vec<u8>)> {
        let mut res = ttrpc::Response::new();
        match answer(self.0, &req.payload) {
            Ok(payload) => {
                res.set_status(ttrpc::get_status(Code::OK, ""));
                res.set_payload(payload);
            }
            Err(status) => res.set_status(status),
        }
        Ok((ctx.mh.stream_id, ttrpc::r#async::convert_response_to_buf(res)?))
    }
}

async fn serve(path: &str) {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).expect("bind");
    let mut methods: HashMap<String, Box<dyn MethodHandler + Send + Sync>> = HashMap::new();
    for method in ["GetEvidence", "GetAdditionalEvidence", "GetToken", "ExtendRuntimeMeasurement", "BindInitData",
                   "CheckInitData", "UpdateConfiguration", "GetTeeType", "GetAdditionalTees", "GetStatus"] {
        methods.insert(format!("/{}/{}", SERVICE, method), Box::new(SampleMethod(method)));
    }
    let mut server = Server::new()
        .set_domain_unix()
        .add_listener(listener.into_raw_fd())
        .expect("listener")
        .register_service(methods);
    server.start().await.expect("start");
    println!("listening");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let _ = server.shutdown().await;
}

/// The calls one connection of the load generator makes in turn; "Mixed" is
/// a guest's mix of a state query, evidence and the TEE type.
fn load_calls(method: &str) -> Vec<(String, Vec<u8>)> {
    let evidence = || {
        let mut req = aa::GetEvidenceRequest::new();
        req.set_RuntimeData(vec![7u8; 64]);
        ("GetEvidence".to_string(), req.write_to_bytes().expect("encode"))
    };
    match method {
        "GetEvidence" => vec![evidence()],
        "GetTeeType" | "GetStatus" => vec![(method.to_string(), vec![])],
        "Mixed" => vec![("GetTeeType".to_string(), vec![]), evidence(), ("GetStatus".to_string(), vec![])],
        other => {
            eprintln!("load: unsupported method {}", other);
            std::process::exit(2);
        }
    }
}

fn load_request(method: &str, payload: &[u8]) -> ttrpc::Request {
    let mut creq = ttrpc::Request::new();
    creq.set_service(SERVICE.to_string());
    creq.set_method(method.to_string());
    creq.set_timeout_nano(10_000_000_000);
    creq.set_payload(payload.to_vec());
    creq
}

/// Exactly `count` calls on one connection, back to back.
async fn count(path: &str, method: &str, count: usize) {
    let calls = load_calls(method);
    let stream = UnixStream::connect(path).expect("connect");
    let mut client = Client::new(stream.into_raw_fd());
    for turn in 0..count {
        let (method, payload) = &calls[turn % calls.len()];
        let res = client.request(load_request(method, payload)).await.expect("call");
        assert!(!res.has_status() || res.get_status().get_code() == Code::OK, "call failed");
    }
    println!("calls {}", count);
}

/// The load generator of Scripts/bench.sh: the same client code for every
/// server, so that servers are compared and not clients.
async fn load(path: &str, method: &str, connections: usize, seconds: f64) {
    let calls = load_calls(method);
    let started = std::time::Instant::now();
    let deadline = started + std::time::Duration::from_secs_f64(seconds);
    let mut tasks = vec![];
    for _ in 0..connections {
        let stream = UnixStream::connect(path).expect("connect");
        let mut client = Client::new(stream.into_raw_fd());
        let calls = calls.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u64> = Vec::new();
            let mut turn = 0;
            while std::time::Instant::now() < deadline {
                let (method, payload) = &calls[turn % calls.len()];
                turn += 1;
                let creq = load_request(method, payload);
                let start = std::time::Instant::now();
                let res = client.request(creq).await.expect("call");
                latencies.push(start.elapsed().as_nanos() as u64);
                assert!(!res.has_status() || res.get_status().get_code() == Code::OK, "call failed");
            }
            latencies
        }));
    }
    let mut all: Vec<u64> = vec![];
    for task in tasks {
        all.extend(task.await.expect("load task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)] as f64 / 1000.0;
    println!("calls {} calls_per_s {:.0} p50_us {:.1} p99_us {:.1}", all.len(), all.len() as f64 / elapsed, at(0.5), at(0.99));
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 6 && args[1] == "load" {
        let connections = args[4].parse().expect("CONNECTIONS");
        let seconds = args[5].parse().expect("SECONDS");
        load(&args[2], &args[3], connections, seconds).await;
        return;
    }
    if args.len() == 5 && args[1] == "count" {
        count(&args[2], &args[3], args[4].parse().expect("CALLS")).await;
        return;
    }
    if args.len() != 3 {
        eprintln!("usage: aa-peer-rust client|serve SOCKET_PATH, load SOCKET_PATH METHOD CONNECTIONS SECONDS, or count SOCKET_PATH METHOD CALLS");
        std::process::exit(2);
    }
    match args[1].as_str() {
        "client" => run_client(&args[2]).await,
        "serve" => serve(&args[2]).await,
        other => {
            eprintln!("unknown mode {}", other);
            std::process::exit(2);
        }
    }
}
