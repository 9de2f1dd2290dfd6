use http::{header, HeaderValue, Response};

use super::*;

#[test]
fn scope_token_syntax() {
    for ok in [
        "orders:write",
        "a",
        "https://api.example.com/orders.read",
        "!#[]~",
    ] {
        assert!(is_scope_token(ok), "{ok}");
    }
    for bad in ["", "a b", "a\"b", "a\\b", "caf\u{e9}", "a\tb", "\u{7f}"] {
        assert!(!is_scope_token(bad), "{bad:?}");
    }
    assert!(matches!(
        scope_token("a b"),
        Err(ConfigError::InvalidScope { .. })
    ));
    assert!(role_name("").is_err() && role_name("a\nb").is_err() && role_name("Task.Read").is_ok());
}

#[test]
fn guard_refusals_to_grpc_calls_are_trailers_only() {
    let mut grpc = http::HeaderMap::new();
    grpc.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    let refuse = |kind| AuthzRejection {
        kind,
        required: Arc::from("orders:write"),
        missing_roles: None,
        challenge: None,
    };
    for (kind, code, http) in [
        (AuthzFailure::InsufficientScope, "7", 403),
        (AuthzFailure::Anonymous, "16", 401),
        (AuthzFailure::NotAuthenticated, "13", 500),
        (AuthzFailure::UnlistedMethod, "7", 403),
        (AuthzFailure::InsufficientRole, "7", 403),
        (AuthzFailure::WrongTenant, "7", 403),
    ] {
        let res: Response<String> = refuse(kind).to_response_for(&grpc);
        assert_eq!(
            (res.status().as_u16(), &res.headers()["grpc-status"]),
            (200, &code.parse::<HeaderValue>().unwrap()),
            "{kind:?}"
        );
        assert_eq!(res.body(), "");
        assert_eq!(
            res.extensions().get::<AuthzRejection>().unwrap().kind(),
            kind
        );
        let plain: Response<String> = refuse(kind).to_response_for(&http::HeaderMap::new());
        assert_eq!(plain.status().as_u16(), http);
        assert!(plain.headers().get("grpc-status").is_none());
    }
    let res: Response<String> = refuse(AuthzFailure::InsufficientScope).to_response_for(&grpc);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains(r#"scope="orders:write""#));
}

#[test]
fn sets() {
    let any = Set::collect(false, ["a", "b", "a"], "x", scope_token).unwrap();
    assert_eq!(any.names, ["a", "b"]);
    assert!(any.met(|n| n == "b"));
    let all = Set::collect(true, ["a", "b"], "x", scope_token).unwrap();
    assert!(!all.met(|n| n == "b"));
    assert!(matches!(
        Set::collect(true, Vec::<&str>::new(), "x", scope_token),
        Err(ConfigError::EmptyRequirement { setting: "x" })
    ));
}
