//! `GET /dashboard`: kafkahouse's live page for its pipelines, as ClickHouse
//! serves `/dashboard` for its server: per Kafka table the lag of each
//! partition over time, rows per second, errors and the last exceptions,
//! and the views with their delivery guarantee. The page asks the HTTP
//! interface itself (system.kafka_consumers, system.kafka_views) with the
//! browser's credentials, so it shows what the user may see. Its files are
//! compiled in (uPlot vendored from npm): it works offline. Uses axum.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const PAGE: &str = include_str!("../../../assets/dashboard.html");
const UPLOT_JS: &str = include_str!("../../../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../../assets/uplot/uPlot.min.css");

/// The dashboard's routes.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/dashboard", get(|| file(PAGE, "text/html; charset=utf-8")))
        .route(
            "/dashboard/uPlot.iife.min.js",
            get(|| file(UPLOT_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/dashboard/uPlot.min.css",
            get(|| file(UPLOT_CSS, "text/css; charset=utf-8")),
        )
}

async fn file(body: &'static str, kind: &'static str) -> Response {
    ([(CONTENT_TYPE, kind)], body).into_response()
}
