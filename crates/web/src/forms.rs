//! HTML forms: their CSRF defence, and how a refusal from the API is shown.
//!
//! Form posts are `application/x-www-form-urlencoded` — a request any site can make a
//! browser send — so the JSON API's rules do not protect them. Every state-changing
//! request to a page is refused when the browser says it came from another site
//! (`Sec-Fetch-Site: cross-site` or `same-site`), or, from browsers that do not send that
//! header, when its `Origin` names another host. The session cookie is `SameSite=Lax`
//! besides, so a cross-site POST does not even carry it.

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use boxoffice_platform::http::csrf;

use crate::api::Problem;
use crate::failure::Failure;

/// Middleware: refuses cross-site form posts with a page saying nothing was changed.
pub async fn refuse_cross_site_forms(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe || same_site(&request) {
        next.run(request).await
    } else {
        Failure::CrossSite.into_response()
    }
}

fn same_site(request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    // Browsers that do not send `Sec-Fetch-Site`: the API's own `Origin` test, which knows
    // the ingress's `X-Forwarded-Host`. No `Origin` at all is not a browser's cross-site post.
    !csrf::is_cross_site(headers)
}

/// The problems of a refused form: shown in the error summary at the top (each a link to
/// its field) and beside each field.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub problems: Vec<Problem>,
}

impl FormErrors {
    pub fn new(problems: Vec<Problem>) -> Self {
        Self { problems }
    }

    pub fn any(&self) -> bool {
        !self.problems.is_empty()
    }

    /// The message for `field`, to show beside it.
    pub fn for_field(&self, field: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|problem| problem.field.as_deref() == Some(field))
            .map(|problem| problem.message.as_str())
    }
}

/// A `next=` path to return to after signing in: only a path on this site. Anything that
/// a browser could read as another site (`//host`, `/\host`, or a path with control
/// characters, which browsers strip: `/\t/host` becomes `//host`) or that would not fit a
/// `Location` header sends the visitor to `/` instead.
pub fn local_path(next: Option<&str>) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_.~%?=&-+,".contains(c);
    match next {
        Some(path)
            if path.starts_with('/') && !path.starts_with("//") && path.chars().all(allowed) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn post(headers: &[(&str, &str)]) -> Request {
        let mut request = Request::builder().method(Method::POST).uri("/sell");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::empty()).expect("request")
    }

    #[test]
    fn only_same_site_forms_are_accepted() {
        assert!(same_site(&post(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_site(&post(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_site(&post(&[("sec-fetch-site", "same-site")])));
        let from = |origin| post(&[("host", "shop.example:3000"), ("origin", origin)]);
        assert!(same_site(&from("http://shop.example:3000")));
        assert!(!same_site(&from("https://evil.example")));
        let behind_ingress = post(&[
            ("host", "web:4007"),
            ("x-forwarded-host", "shop.example"),
            ("origin", "https://shop.example"),
        ]);
        assert!(same_site(&behind_ingress));
        assert!(same_site(&post(&[])), "no browser headers: not cross-site");
    }

    #[test]
    fn sign_in_returns_only_to_this_site() {
        assert_eq!(local_path(Some("/orders/1")), "/orders/1");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(None), "/");
        assert_eq!(local_path(Some("/\t/evil.example")), "/");
        assert_eq!(local_path(Some("/\n")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(Some("/?q=a&page=2")), "/?q=a&page=2");
    }
}
