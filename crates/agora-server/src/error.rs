//! The one place where errors become HTTP answers: a status, a stable
//! `code`, and a message for people. Internal detail goes to the log only.

use agora_api::{ApiErrorBody, FieldError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("missing or unknown API token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("rate limit exceeded: at most {0} requests per second for this token; retry shortly")]
    RateLimited(u32),
    #[error("the server is shutting down or its store failed; retry against a healthy server")]
    Unavailable,
}

impl ApiError {
    pub fn invalid(field: &str, msg: impl Into<String>) -> ApiError {
        ApiError::Invalid(FieldError::new(field, msg))
    }
    pub fn job_not_found(id: u64) -> ApiError {
        ApiError::NotFound(format!("job {id} not found"))
    }
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }
    pub fn body(&self) -> ApiErrorBody {
        let field = match self {
            ApiError::Invalid(f) => Some(f.field.clone()),
            _ => None,
        };
        ApiErrorBody { code: self.parts().1.into(), message: self.to_string(), field }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.parts().0, axum::Json(self.body())).into_response();
        if let ApiError::RateLimited(_) = self {
            r.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        r
    }
}
