//! The web dashboard's files, embedded in the binary and served at `/` and
//! `/ui/...`: plain HTML, CSS and ES modules with no build step, and the
//! vendored uPlot (MIT; `web/vendor/uplot/`). Nothing is fetched from
//! elsewhere: the page talks only to this server's public API, with the
//! token the person logs in with.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// (path under /ui/, content type, bytes)
const FILES: &[(&str, &str, &str)] = &[
    ("app.js", "text/javascript; charset=utf-8", include_str!("../web/app.js")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("../web/api.js")),
    ("map.js", "text/javascript; charset=utf-8", include_str!("../web/map.js")),
    ("views.js", "text/javascript; charset=utf-8", include_str!("../web/views.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../web/style.css")),
    (
        "vendor/uplot/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/vendor/uplot/uPlot.iife.min.js"),
    ),
    ("vendor/uplot/uPlot.min.css", "text/css; charset=utf-8", include_str!("../web/vendor/uplot/uPlot.min.css")),
    ("vendor/uplot/LICENSE", "text/plain; charset=utf-8", include_str!("../web/vendor/uplot/LICENSE")),
];

const INDEX: &str = include_str!("../web/index.html");

/// Headers every dashboard file carries: no framing by other sites, no
/// scripts or connections but this server's.
fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    r
}

/// `/` and `/ui/{*path}`: no token needed to load the page; every request
/// it makes to the API carries one.
pub fn router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new().route("/", axum::routing::get(index)).route("/ui/{*path}", axum::routing::get(asset))
}

/// Every file served, for the test that nothing refers elsewhere.
pub fn files() -> impl Iterator<Item = (&'static str, &'static str)> {
    std::iter::once(("index.html", INDEX)).chain(FILES.iter().map(|(n, _, b)| (*n, *b)))
}

pub async fn index() -> Response {
    secure(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response())
}

pub async fn asset(Path(p): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == p) {
        Some((_, ct, body)) => secure(([(header::CONTENT_TYPE, *ct)], *body).into_response()),
        None => crate::error::ApiError::NotFound(format!("no dashboard file `{p}`")).into_response(),
    }
}
