//! One Kafka request over a connection (secured per `--command-config`) with Weir's protocol codec, for admin calls that
//! librdkafka (through the `rdkafka` crate) lacks or reports wrongly: partition reassignment, and
//! AlterConfigs, whose per-resource errors rdkafka 0.39 drops (every resource comes back `Ok`).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::admin::TIMEOUT;

/// Largest response accepted.
const MAX_RESPONSE: usize = 64 << 20;

/// `INVALID_REPLICA_ASSIGNMENT (39)`-style name of a Kafka error code.
pub fn code_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        Some(e) => format!(
            "{} ({code})",
            super::admin::screaming_snake(&format!("{e:?}"))
        ),
        None => format!("error code {code}"),
    }
}

/// One line: `what`, the Kafka error's name and code, and the broker's message if any.
pub fn failed(what: &str, code: i16, message: Option<&StrBytes>) -> String {
    match message.map(|m| m.as_str()).filter(|m| !m.is_empty()) {
        Some(m) => format!("{what}: {}: {m}", code_name(code)),
        None => format!("{what}: {}", code_name(code)),
    }
}

/// One request/response exchange with the first reachable bootstrap server.
pub fn call<Q: Encodable, R: Decodable>(
    bootstrap: &str,
    key: ApiKey,
    version: i16,
    req: &Q,
) -> Result<R, String> {
    let frame = weir_protocol::client::encode_request(key, version, 1, "weir-cli", req)
        .map_err(|e| format!("{key:?}: {e}"))?;
    let mut last = format!("no bootstrap server in {bootstrap:?}");
    for server in bootstrap
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match exchange(server, &frame) {
            Ok(body) => {
                return weir_protocol::client::decode_response(key, version, 1, body)
                    .map_err(|e| format!("{key:?} from {server}: {e}"));
            }
            Err(e) => last = format!("{server}: {e}"),
        }
    }
    Err(format!("cannot reach a broker: {last}"))
}

fn exchange(server: &str, frame: &[u8]) -> std::io::Result<Bytes> {
    let addr = server
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    tcp.set_read_timeout(Some(TIMEOUT))?;
    tcp.set_write_timeout(Some(TIMEOUT))?;
    let host = server.rsplit_once(':').map_or(server, |(h, _)| h);
    // TLS and SASL as `--command-config` says (plain TCP without it).
    let mut s = super::secure_stream::secure(tcp, host.trim_matches(['[', ']']))?;
    s.write_all(frame)?;
    s.flush()?;
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix)?;
    let len = weir_protocol::frame::frame_length(prefix, MAX_RESPONSE)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok(Bytes::from(body))
}
