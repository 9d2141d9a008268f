//! The load benchmark's baseline: a minimal actix-web server answering every GET with the same small JSON
//! body, to compare the real service's throughput against on the same machine in the same run.
//!
//! ```sh
//! cargo run --release -p tagcenter --example fixed_json -- 127.0.0.1:18081 2
//! ```

use actix_web::{App, HttpResponse, HttpServer, web};

const BODY: &str = r#"{"items":[{"item":"SKU000001","score":0.9,"reason":"popular"}],"model_version":"fixed"}"#;

async fn fixed() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(BODY)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let workers = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    HttpServer::new(|| App::new().default_service(web::to(fixed))).workers(workers).bind(bind)?.run().await
}
