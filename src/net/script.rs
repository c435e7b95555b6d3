//! For unit tests: a scripted server on loopback that sends a greeting,
//! then answers each line it reads with the next reply, and returns the
//! lines it read. For faults no real server makes (Microsoft's bare
//! refusals, odd challenges).

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

pub(crate) async fn serve(
    greeting: &'static str,
    replies: Vec<String>,
) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let (r, mut w) = sock.into_split();
        let mut r = tokio::io::BufReader::new(r);
        w.write_all(greeting.as_bytes()).await.unwrap();
        let mut seen = Vec::new();
        for reply in replies {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                break;
            }
            seen.push(line.trim_end().to_string());
            w.write_all(reply.as_bytes()).await.unwrap();
        }
        seen
    });
    (port, task)
}
