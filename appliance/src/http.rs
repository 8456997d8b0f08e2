//! Serving an axum router from the synchronous `vodfarm` binary: the appliance's cache
//! (`oca serve`) and the steering endpoint (`steer --listen`).

use std::net::SocketAddr;

use axum::Router;

/// Bind `listen` and serve `app` until the process is stopped; `on_bound` gets the
/// real address (the port may have been 0).
pub fn run(
    app: Router,
    listen: SocketAddr,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        on_bound(listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })
}
