//! The `/api/users` routes. Thin: parse, call the service, shape the response.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boxoffice_platform::http::{ApiError, ApiJson, Claims, ErrorBody, ErrorItem, MaybeUser};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::service::{AuthError, AuthService, Session};

/// Tag grouping these routes in the OpenAPI document.
pub const TAG: &str = "users";

/// The `/api/users` routes, documented.
pub fn router(service: AuthService) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(current_user))
        .with_state(service)
}

/// Email and password, as typed by the user.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    /// Compared case-insensitively; stored lower-cased.
    #[serde(default)]
    email: Option<String>,
    /// 8 to 128 characters.
    #[serde(default)]
    password: Option<String>,
}

/// The signed-in account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    id: String,
    email: String,
}

/// `currentUser` is `null` when the request carries no valid, unexpired session.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentUserBody {
    #[serde(rename = "currentUser")]
    current_user: Option<Claims>,
}

/// Create an account. Sets the `session` cookie.
#[utoipa::path(
    post, path = "/api/users/signup", tag = TAG,
    request_body = Credentials,
    responses(
        (status = 201, description = "Account created and signed in", body = UserBody,
         headers(("set-cookie" = String, description = "session cookie"))),
        (status = 400, description = "`Email must be valid`, `Password must be between 8 and 128 characters` or `Email in use`", body = ErrorBody),
    )
)]
async fn sign_up(
    State(service): State<AuthService>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let session = service
        .sign_up(
            body.email.as_deref().unwrap_or_default(),
            body.password.unwrap_or_default(),
        )
        .await?;
    Ok(session_response(
        &service,
        &headers,
        StatusCode::CREATED,
        session,
    ))
}

/// Sign in with email and password. Sets the `session` cookie.
///
/// An unknown email and a wrong password get the same answer. After repeated failures
/// for one email, attempts are refused with 429 and `Retry-After` for a while.
#[utoipa::path(
    post, path = "/api/users/signin", tag = TAG,
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in", body = UserBody,
         headers(("set-cookie" = String, description = "session cookie"))),
        (status = 400, description = "`Invalid credentials`, or a malformed email or password", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins for this email", body = ErrorBody,
         headers(("retry-after" = u64, description = "seconds to wait"))),
    )
)]
async fn sign_in(
    State(service): State<AuthService>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let session = service
        .sign_in(
            body.email.as_deref().unwrap_or_default(),
            body.password.unwrap_or_default(),
        )
        .await
        .map_err(|err| match err {
            // At sign-in, a malformed email or password simply cannot match an account.
            AuthError::Invalid(_) => AuthError::InvalidCredentials,
            other => other,
        })?;
    Ok(session_response(
        &service,
        &headers,
        StatusCode::OK,
        session,
    ))
}

/// How far a sign-out reaches.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignOutParams {
    /// `true` ends every session of the user, on every device, not only this one.
    everywhere: Option<bool>,
}

/// Sign out: ends the session and clears the `session` cookie.
///
/// The session is over on every service, not only in this browser: a copy of its token
/// (bearer or cookie) is refused from then on. With `everywhere=true` every session of the
/// user started until now ends too ("sign out everywhere"); sessions started later are not
/// affected. Without a valid session there is nothing to end, and the answer is the same.
#[utoipa::path(
    post, path = "/api/users/signout", tag = TAG,
    params(SignOutParams),
    responses(
        (status = 200, description = "Session ended, cookie cleared (`Max-Age=0`)", body = Object,
         headers(("set-cookie" = String, description = "expired session cookie"))),
        (status = 400, description = "`everywhere` is not `true` or `false`", body = ErrorBody),
    )
)]
async fn sign_out(
    State(service): State<AuthService>,
    MaybeUser(claims): MaybeUser,
    params: Result<Query<SignOutParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|_| ApiError::bad_request("Invalid query string"))?;
    if let Some(claims) = &claims {
        service
            .sign_out(claims, params.everywhere.unwrap_or(false))
            .await?;
    }
    let cookie = service.sessions().clearing_cookie(&headers);
    Ok((
        [(header::SET_COOKIE, cookie)],
        axum::Json(serde_json::json!({})),
    )
        .into_response())
}

/// Who is signed in, from the cookie or the bearer token.
#[utoipa::path(
    get, path = "/api/users/currentuser", tag = TAG,
    responses((status = 200, description = "The session's claims, or `null`", body = CurrentUserBody))
)]
async fn current_user(MaybeUser(claims): MaybeUser) -> axum::Json<CurrentUserBody> {
    axum::Json(CurrentUserBody {
        current_user: claims,
    })
}

fn session_response(
    service: &AuthService,
    request_headers: &HeaderMap,
    status: StatusCode,
    session: Session,
) -> Response {
    let cookie = service
        .sessions()
        .session_cookie(&session.token, request_headers);
    let body = UserBody {
        id: session.claims.id.to_string(),
        email: session.claims.email,
    };
    (status, [(header::SET_COOKIE, cookie)], axum::Json(body)).into_response()
}

/// How each refusal is answered; handlers just use `?`.
impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Invalid(problems) => ApiError::Validation(
                problems
                    .into_iter()
                    .map(|(field, message)| ErrorItem::field(field, message))
                    .collect(),
            ),
            AuthError::EmailInUse => ApiError::invalid("email", "Email in use"),
            AuthError::InvalidCredentials => ApiError::bad_request("Invalid credentials"),
            AuthError::TooManyAttempts { retry_after_secs } => ApiError::TooManyRequests {
                message: "Too many failed sign-in attempts; try again later".to_owned(),
                retry_after_secs,
            },
            AuthError::Internal(e) => ApiError::Internal(e),
        }
    }
}
