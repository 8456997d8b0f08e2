//! The appliance crate's integration tests, in one binary: `oca serve` on a real
//! socket on 127.0.0.1.

use std::net::SocketAddr;
use std::path::Path;

use workers::testkit::http::http_get;

/// Serve `cache` on a free port in a background thread; the bound address.
fn serve(cache: &Path) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    let app = appliance::serve::router(cache);
    std::thread::spawn(move || {
        appliance::http::run(app, "127.0.0.1:0".parse().unwrap(), |a| tx.send(a).unwrap())
            .expect("oca serve runs");
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("oca serve did not start on 127.0.0.1")
}

/// A GET of `path` from the server at `addr`: (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = http_get(&format!("http://{addr}{path}"), None);
    (status, body)
}

#[test]
fn serve_refuses_symlinks_out_of_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let outside = tmp.path().join("secret");
    std::fs::create_dir_all(cache.join("t")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("shadow"), b"root:secret").unwrap();
    std::fs::write(cache.join("t/master.m3u8"), b"#EXTM3U\n").unwrap();
    // Out of the cache: a directory link, a file link, a link on the way up.
    std::os::unix::fs::symlink(&outside, cache.join("t/etc")).unwrap();
    std::os::unix::fs::symlink(outside.join("shadow"), cache.join("t/shadow.m3u8")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), cache.join("up")).unwrap();
    // Inside the cache: allowed.
    std::os::unix::fs::symlink(cache.join("t/master.m3u8"), cache.join("t/alias.m3u8")).unwrap();
    let addr = serve(&cache);

    assert_eq!(get(addr, "/t/master.m3u8"), (200, b"#EXTM3U\n".to_vec()));
    assert_eq!(get(addr, "/t/alias.m3u8"), (200, b"#EXTM3U\n".to_vec()));
    for path in [
        "/t/etc/shadow",
        "/t/shadow.m3u8",
        "/up/secret/shadow",
        "/t/.hidden",
    ] {
        let (status, body) = get(addr, path);
        assert_eq!(status, 404, "{path} must be refused");
        assert!(!body.windows(6).any(|w| w == b"secret"), "{path} leaked");
    }
}
