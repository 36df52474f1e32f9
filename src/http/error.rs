//! The API's one error type: a status, a stable code and a message that names
//! the problem. A server error is logged once, here, and answered without its
//! details: never a stack trace, a path or a secret.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::answer::{ErrorBody, ErrorCode, ErrorDetail};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// `out_of_sequence`: the item the site must start at.
    pub expected: Option<u64>,
}

/// The status of an error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadParameter | ErrorCode::BadBody => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Conflict
        | ErrorCode::ImplausibleReading
        | ErrorCode::OutOfSequence
        | ErrorCode::Protocol => StatusCode::CONFLICT,
        ErrorCode::InvalidReading | ErrorCode::InvalidInvoice | ErrorCode::InvalidBatch => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ErrorCode::ReportFailed | ErrorCode::BillingFailed | ErrorCode::Internal => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        ErrorCode::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Timeout => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            expected: None,
        }
    }

    /// 400: a parameter is missing or malformed; the message names it.
    pub fn parameter(name: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError::new(ErrorCode::BadParameter, format!("`{name}`: {message}"))
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        status_of(self.code)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// 500: a contract's money could not be computed; logged here, and the
    /// answer says what was too large (no path, no secret: only the
    /// contract's own numbers).
    pub fn billing(contract: &str, e: crate::billing::Overflow) -> ApiError {
        let message = format!("contract {contract}: {e}");
        tracing::error!("API request failed: {message}");
        ApiError::new(ErrorCode::BillingFailed, message)
    }

    /// 413: the body is over the limit (the limit is in the config, not
    /// in the answer).
    pub fn too_large() -> ApiError {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the request body is larger than the server takes ([http] max_body_bytes)",
        )
    }

    /// 500: logged here with its cause; the answer says only that it failed.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!("API request failed: {cause}");
        ApiError::new(
            ErrorCode::Internal,
            "the server could not answer; the log has the cause",
        )
    }
}

impl From<crate::storage::Error> for ApiError {
    fn from(e: crate::storage::Error) -> ApiError {
        if e.is_busy() {
            tracing::warn!("API request refused, the database is busy: {e}");
            return ApiError::new(
                ErrorCode::Busy,
                "the database is busy (another process is writing to it); nothing was changed, try again shortly",
            );
        }
        ApiError::internal(e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> ApiError {
        ApiError::new(ErrorCode::BadParameter, e.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> ApiError {
        if e.status().is_server_error() {
            ApiError::internal(e.body_text())
        } else {
            ApiError::new(ErrorCode::BadParameter, e.body_text())
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> ApiError {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            ApiError::new(ErrorCode::BadBody, e.body_text())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                expected: self.expected,
            },
        };
        (status_of(self.code), Json(body)).into_response()
    }
}

/// What a handler returns.
pub type ApiResult<T> = Result<T, ApiError>;
