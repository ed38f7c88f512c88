//! The SASL_PLAINTEXT controller transport over loopback: both sides from real configs.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// The transport of a node whose CONTROLLER JAAS config has `password` (both sides).
fn transport(password: &str) -> Arc<dyn RaftTransport> {
    let jaas = format!(
        r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="{password}" user_controller="{password}";"#
    );
    let flags: Vec<(String, String)> = [
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:1,CONTROLLER://127.0.0.1:2",
        ),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        ),
        ("sasl.mechanism.controller.protocol", "PLAIN"),
        ("listener.name.controller.sasl.enabled.mechanisms", "PLAIN"),
        ("listener.name.controller.plain.sasl.jaas.config", &jaas),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = BrokerConfig::from_sources(None, &[], &flags).unwrap();
    controller_transport(&config).unwrap()
}

/// Accept with `server`, dial with `client`; on success, a byte crosses the secured stream.
async fn exchange(
    server: Arc<dyn RaftTransport>,
    client: Arc<dyn RaftTransport>,
) -> (std::io::Result<()>, std::io::Result<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut s = server.accept(tcp).await?;
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await?;
        assert_eq!(b, [7]);
        Ok(())
    });
    let tcp = TcpStream::connect(&addr).await.unwrap();
    let dialed = async {
        let mut s = client.connect(tcp, &addr).await?;
        s.write_all(&[7]).await?;
        s.flush().await
    }
    .await;
    (accepted.await.unwrap(), dialed)
}

#[tokio::test]
async fn the_right_password_authenticates_and_a_wrong_one_is_refused_on_both_sides() {
    let (server, client) = exchange(transport("pw"), transport("pw")).await;
    assert!(server.is_ok() && client.is_ok(), "{server:?} {client:?}");

    let (server, client) = exchange(transport("pw"), transport("wrong")).await;
    let server = server.unwrap_err();
    assert_eq!(server.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(
        server.to_string().contains("Invalid username or password"),
        "{server}"
    );
    let client = client.unwrap_err().to_string();
    assert!(
        client.contains("controller SASL authentication failed (error 58)")
            && client.contains("Invalid username or password"),
        "{client}"
    );
}

#[tokio::test]
async fn a_plain_raft_client_is_refused_by_a_sasl_controller_listener() {
    let (server, _) = exchange(transport("pw"), Arc::new(PlainTransport)).await;
    assert!(server.is_err());
}
