//! `ApiError`, the one failure type of the API's handlers and extractors,
//! answered through [`crate::http::error_response`], and the documented
//! error responses the OpenAPI document refers to.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use utoipa::ToResponse;

use crate::store::StoreError;

/// An API failure with its status; 5xx causes are logged, never returned.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// The request body's field at fault, when one is.
    field: Option<String>,
}

/// What every fallible handler returns.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A failure the caller can act on: its status and what to fix.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
        }
    }

    /// 422 for a readable JSON body with a bad field: names the field (a
    /// path such as `scope.app`) in the message and in the body's `field`.
    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        let field = field.into();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("{field}: {message}"),
            field: Some(field),
        }
    }

    /// 422 naming `field` with a message that already says what is wrong.
    pub fn invalid_at(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// 422 from a check whose message starts with the field it is about
    /// (`name: 1 to 128 bytes`, ``unknown field `x` ``), which it names.
    pub fn invalid_checked(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            field: field_of(&message),
            message,
        }
    }

    /// 404 naming what is missing, e.g. `no such server: 3`.
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("no such {what}: {id}"))
    }

    /// 400 for a path or query parameter that parsed but is out of range
    /// (a bad body field is [`ApiError::invalid`], 422).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 500: logs `cause` and tells the caller nothing more.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!("API request failed: {cause:#}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// The body field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::http::error::field_error_response(self.status, self.message, self.field)
    }
}

/// The field a check's message is about: its leading `path:` (letters,
/// digits, `_`, `.`, `[`, `]`), or the name in ``unknown field `x` `` or
/// ``missing field `x` ``.
pub(crate) fn field_of(message: &str) -> Option<String> {
    for lead in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.strip_prefix(lead) {
            return rest.split('`').next().map(String::from);
        }
    }
    let (head, _) = message.split_once(": ")?;
    let ok = !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c));
    ok.then(|| head.to_string())
}

/// A refused rule or receiver: 422 with the field it names.
impl From<crate::alerts::invalid::Invalid> for ApiError {
    fn from(e: crate::alerts::invalid::Invalid) -> Self {
        let message = e.to_string();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            field: (!e.field.is_empty()).then_some(e.field),
            message,
        }
    }
}

impl ApiError {
    /// The same error answered with `status` (its field kept).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::new(StatusCode::NOT_FOUND, "not found"),
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            StoreError::Other(e) => Self::internal(format!("store: {e:#}")),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal(format!("blocking task: {e}"))
    }
}

/// Request bodies are parsed by [`super::extract::Json`]; a `serde_json`
/// error here comes from serializing the hub's own values, so it is a 500.
impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        Self::internal(format!("serializing: {e}"))
    }
}

pub use crate::http::error::ErrorBody;

/// Documentation-only response types: the OpenAPI document refers to these
/// by name; handlers answer them through [`ApiError`].
#[allow(dead_code)]
pub(super) mod responses {
    use super::{ErrorBody, ToResponse};

    /// A path or query parameter that does not parse or is out of its
    /// documented range, an unknown query parameter, or a body that is not JSON.
    #[derive(ToResponse)]
    pub(crate) struct BadRequest(ErrorBody);

    /// No `Authorization: Bearer <token>` header, or an unknown token.
    #[derive(ToResponse)]
    #[response(headers(("WWW-Authenticate" = String, description = "Always `Bearer realm=\"pmr-hub\"`, with `error=\"invalid_token\"` for an unknown token")))]
    pub(crate) struct Unauthorized(ErrorBody);

    /// The caller's role is below what the route needs, or (with a session
    /// cookie) a state-changing request lacks its `X-CSRF-Token`.
    #[derive(ToResponse)]
    pub(crate) struct Forbidden(ErrorBody);

    /// Too many sign-in attempts from this address or for this account.
    #[derive(ToResponse)]
    #[response(headers(("Retry-After" = String, description = "Seconds to wait")))]
    pub(crate) struct TooManyRequests(ErrorBody);

    /// The server, process or action does not exist (or the server is not connected since the hub started).
    #[derive(ToResponse)]
    pub(crate) struct NotFound(ErrorBody);

    /// The request is valid but the target's state refuses it (server offline, ambiguous name).
    #[derive(ToResponse)]
    pub(crate) struct Conflict(ErrorBody);

    /// The request body is larger than 64 KiB.
    #[derive(ToResponse)]
    pub(crate) struct PayloadTooLarge(ErrorBody);

    /// The request body is not sent as `Content-Type: application/json`.
    #[derive(ToResponse)]
    pub(crate) struct UnsupportedMediaType(ErrorBody);

    /// The JSON body parses but a field is missing, of the wrong type,
    /// unknown or invalid; `field` names it.
    #[derive(ToResponse)]
    pub(crate) struct Unprocessable(ErrorBody);

    /// The agent cannot take the request now (its queue is full or it just left); retry.
    #[derive(ToResponse)]
    pub(crate) struct Unavailable(ErrorBody);

    /// The hub failed (the cause is in its log, not in the answer).
    #[derive(ToResponse)]
    pub(crate) struct Internal(ErrorBody);

    /// Error sets an operation lists beside its own answers, e.g.
    /// `responses((status = 200, body = X), Errors, BodyErrors)`: each
    /// names the shared responses above by reference, as a line each did.
    fn refs(
        set: &[(&str, &str)],
    ) -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        set.iter()
            .map(|(code, name)| {
                let r = utoipa::openapi::Ref::from_response_name(*name);
                (code.to_string(), utoipa::openapi::RefOr::Ref(r))
            })
            .collect()
    }

    /// What any call with a token or session can meet: 400, 401, 500.
    pub(crate) struct Errors;

    impl utoipa::IntoResponses for Errors {
        fn responses()
        -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>>
        {
            refs(&[
                ("400", "BadRequest"),
                ("401", "Unauthorized"),
                ("500", "Internal"),
            ])
        }
    }

    /// [`Errors`] and 403, for a call that needs a role (or a CSRF token).
    pub(crate) struct Guarded;

    impl utoipa::IntoResponses for Guarded {
        fn responses()
        -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>>
        {
            refs(&[
                ("400", "BadRequest"),
                ("401", "Unauthorized"),
                ("403", "Forbidden"),
                ("500", "Internal"),
            ])
        }
    }

    /// What a JSON request body can meet: 413, 415, 422.
    pub(crate) struct BodyErrors;

    impl utoipa::IntoResponses for BodyErrors {
        fn responses()
        -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>>
        {
            refs(&[
                ("413", "PayloadTooLarge"),
                ("415", "UnsupportedMediaType"),
                ("422", "Unprocessable"),
            ])
        }
    }
}
