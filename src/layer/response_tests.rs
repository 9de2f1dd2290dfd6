use super::*;

fn header(c: &Challenge, reason: Reason) -> Option<String> {
    c.header_for(&Rejection::new(reason))
        .map(|v| v.to_str().unwrap().to_owned())
}

#[test]
fn rfc6750_challenges() {
    let c = Challenge::new(Some("orders"), ErrorDetail::Terse).unwrap();
    assert_eq!(
        header(&c, Reason::MissingToken).unwrap(),
        r#"Bearer realm="orders""#
    );
    assert_eq!(
        header(&c, Reason::Expired).unwrap(),
        r#"Bearer realm="orders", error="invalid_token", error_description="The access token expired""#
    );
    assert_eq!(
        header(&c, Reason::BadSignature).unwrap(),
        r#"Bearer realm="orders", error="invalid_token", error_description="The access token is invalid""#
    );
    assert_eq!(
        header(&c, Reason::InvalidRequest).unwrap(),
        r#"Bearer realm="orders", error="invalid_request", error_description="Malformed authorization request""#
    );
    assert_eq!(header(&c, Reason::KeysUnavailable), None);
    let bare = Challenge::new(None, ErrorDetail::ReasonCode).unwrap();
    assert_eq!(header(&bare, Reason::MissingToken).unwrap(), "Bearer");
    assert_eq!(
        header(&bare, Reason::WrongAudience).unwrap(),
        r#"Bearer error="invalid_token", error_description="The access token is invalid (wrong_audience)""#
    );
    assert_eq!(
        c.insufficient_scope("orders:write").to_str().unwrap(),
        r#"Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks the required scope", scope="orders:write""#
    );
    assert!(Challenge::new(Some("a\"b"), ErrorDetail::Terse).is_err());
}

#[test]
fn resource_metadata_in_401_and_insufficient_scope_only() {
    let rm = "https://api.example.com/.well-known/oauth-protected-resource";
    let c = Challenge::new(None, ErrorDetail::Terse)
        .unwrap()
        .with_resource_metadata(rm)
        .unwrap();
    assert_eq!(
        header(&c, Reason::MissingToken).unwrap(),
        format!(r#"Bearer resource_metadata="{rm}""#)
    );
    assert_eq!(
        header(&c, Reason::BadSignature).unwrap(),
        format!(
            r#"Bearer error="invalid_token", error_description="The access token is invalid", resource_metadata="{rm}""#
        )
    );
    assert_eq!(
        c.insufficient_scope("").to_str().unwrap(),
        format!(
            r#"Bearer error="insufficient_scope", error_description="The access token lacks the required scope", resource_metadata="{rm}""#
        )
    );
    assert_eq!(
        header(&c, Reason::InvalidRequest).unwrap(),
        r#"Bearer error="invalid_request", error_description="Malformed authorization request""#
    );
    assert_eq!(header(&c, Reason::KeysUnavailable), None);
    for bad in [
        "http://api.example.com/",
        "https://a.example/\"x\"",
        "rel/ative",
    ] {
        assert!(Challenge::bare(ErrorDetail::Terse)
            .with_resource_metadata(bad)
            .is_err());
    }
}

#[test]
fn responses() {
    let r =
        Rejection::new(Reason::KeysUnavailable).with_retry_after(std::time::Duration::from_secs(7));
    let res: Response<String> = Rfc6750Response::default().response(&r);
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "7");
    assert!(res.headers().get("www-authenticate").is_none());
    assert_eq!(
        res.extensions().get::<Rejection>().unwrap().reason(),
        Reason::KeysUnavailable
    );
    let json: Response<String> =
        JsonResponse::new(Challenge::new(None, ErrorDetail::Terse).unwrap())
            .response(&Rejection::new(Reason::Expired));
    assert_eq!(json.status(), 401);
    let v: serde_json::Value = serde_json::from_str(json.body()).unwrap();
    assert_eq!(v["error"], "invalid_token");
    assert_eq!(json.headers()["content-type"], "application/json");
}

/// A layer accepting Bearer and DPoP challenges with both: a gRPC
/// answer keeps both, in the HTTP answer's order, not only the first.
#[cfg(feature = "dpop")]
#[test]
fn grpc_answers_keep_every_challenge() {
    let c = Challenge::new(Some("orders"), ErrorDetail::Terse)
        .unwrap()
        .with_dpop(&[jsonwebtoken::Algorithm::ES256], true);
    let expired = Rejection::new(Reason::Expired);
    let expected = c.header_values(Reason::Expired, false);
    assert_eq!(expected.len(), 2, "Bearer and DPoP");
    for authorization in [None, Some("Bearer x")] {
        let mut req = http::Request::post("/shop.v1.Orders/GetOrder")
            .header("content-type", "application/grpc");
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        let req = req.body(()).unwrap();
        let head = RequestHead::of(&req);
        for res in [
            Rfc6750Response::new(c.clone()).response_to(&head, &expired),
            JsonResponse::new(c.clone()).response_to(&head, &expired),
        ] {
            let res: Response<String> = res;
            assert_eq!(res.headers()["grpc-status"], "16");
            let got: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
            assert_eq!(got, expected.iter().collect::<Vec<_>>());
            assert!(got[0]
                .to_str()
                .unwrap()
                .starts_with("Bearer realm=\"orders\""));
            assert!(got[1].to_str().unwrap().starts_with("DPoP "));
        }
    }
}

#[test]
fn grpc_calls_get_trailers_only_answers() {
    let req = http::Request::post("/shop.v1.Orders/GetOrder")
        .header("content-type", "application/grpc+proto")
        .body(())
        .unwrap();
    let head = RequestHead::of(&req);
    let c = Challenge::new(Some("orders"), ErrorDetail::ReasonCode).unwrap();
    for (reason, code, message) in [
        (
            Reason::MissingToken,
            "16",
            "Authentication required (missing_token)",
        ),
        (Reason::Expired, "16", "The access token expired (expired)"),
        (
            Reason::InvalidRequest,
            "3",
            "Malformed authorization request (invalid_request)",
        ),
    ] {
        for res in [
            Rfc6750Response::new(c.clone()).response_to(&head, &Rejection::new(reason)),
            JsonResponse::new(c.clone()).response_to(&head, &Rejection::new(reason)),
        ] {
            let res: Response<String> = res;
            assert_eq!(res.status(), 200, "{reason:?}");
            assert_eq!(res.headers()["grpc-status"], code, "{reason:?}");
            assert_eq!(res.headers()["grpc-message"], message, "{reason:?}");
            assert_eq!(res.body(), "", "{reason:?}");
            assert_eq!(
                res.headers()["www-authenticate"],
                c.header_for(&Rejection::new(reason)).unwrap()
            );
            assert_eq!(
                res.extensions().get::<Rejection>().unwrap().reason(),
                reason
            );
        }
    }
    let busy =
        Rejection::new(Reason::KeysUnavailable).with_retry_after(std::time::Duration::from_secs(3));
    let res: Response<String> = Rfc6750Response::default().response_to(&head, &busy);
    assert_eq!(res.headers()["grpc-status"], "14");
    assert_eq!(res.headers()["retry-after"], "3");
    assert_eq!(res.headers()["grpc-retry-pushback-ms"], "3000");
    assert!(res.headers().get("www-authenticate").is_none());
    // The same rejection to a plain HTTP request: RFC 6750.
    let plain = http::Request::get("/orders").body(()).unwrap();
    let res: Response<String> =
        Rfc6750Response::default().response_to(&RequestHead::of(&plain), &busy);
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("grpc-status").is_none());
}
