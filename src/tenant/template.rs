//! An issuer template (`https://login.microsoftonline.com/{tenantid}/v2.0`)
//! and the claim its placeholder is filled from.

use std::sync::Arc;

use super::TenantPolicy;
use crate::error::ConfigError;

/// The tenant part of an issuer template, kept by the [`Issuer`](crate::Issuer).
#[derive(Debug, Clone)]
pub(crate) struct Tenancy {
    prefix: Box<str>,
    suffix: Box<str>,
    /// The claim the tenant is read from (`tid`).
    claim: Box<str>,
    pub(crate) policy: TenantPolicy,
}

/// Whether `s` can be a tenant: 1–128 ASCII letters, digits, `-`, `_`, `.`
/// (Entra tenant ids are GUIDs). Nothing that could change the shape of
/// the issuer URL it is substituted into.
pub(crate) fn is_tenant_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s != "."
        && s != ".."
}

/// Whether `issuer` holds a `{` or `}`: a template, whether meant or not.
pub(crate) fn looks_like_template(issuer: &str) -> bool {
    issuer.contains(['{', '}'])
}

impl Tenancy {
    /// Split `template` around its one `{placeholder}`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidUrl`] without exactly one `{name}` placeholder
    /// (`name`: ASCII letters, digits, `_`), or with it in the host;
    /// [`ConfigError::EmptyClaimName`] for an empty claim; the policy's own.
    pub(crate) fn new(
        template: &str,
        claim: String,
        policy: TenantPolicy,
    ) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidUrl {
            url: template.to_owned(),
            reason,
        };
        let (prefix, rest) = template.split_once('{').ok_or_else(|| {
            invalid("a tenant template needs one `{placeholder}` (e.g. `{tenantid}`)")
        })?;
        let (name, suffix) = rest
            .split_once('}')
            .ok_or_else(|| invalid("unclosed `{` in the issuer template"))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(invalid(
                "the placeholder name is ASCII letters, digits and `_`",
            ));
        }
        if looks_like_template(prefix) || looks_like_template(suffix) {
            return Err(invalid("an issuer template has exactly one placeholder"));
        }
        // The tenant goes in the path: a host chosen by the token would let
        // any domain owner be "a tenant".
        let after_scheme = prefix.split_once("://").map_or(prefix, |(_, r)| r);
        if !after_scheme.contains('/') {
            return Err(invalid("the placeholder must be in the path, not the host"));
        }
        if claim.is_empty() {
            return Err(ConfigError::EmptyClaimName {
                setting: "IssuerBuilder::tenants",
            });
        }
        policy.validate()?;
        Ok(Self {
            prefix: prefix.into(),
            suffix: suffix.into(),
            claim: claim.into(),
            policy,
        })
    }

    /// The tenant an `iss` names, when it is this template filled with a
    /// well-formed tenant id.
    pub(crate) fn tenant_in<'a>(&self, iss: &'a str) -> Option<&'a str> {
        let tenant = iss
            .strip_prefix(&*self.prefix)?
            .strip_suffix(&*self.suffix)?;
        is_tenant_id(tenant).then_some(tenant)
    }

    /// The claim the tenant is read from.
    pub(crate) fn claim(&self) -> &str {
        &self.claim
    }

    /// The issuer of `tenant`.
    pub(crate) fn issuer_of(&self, tenant: &str) -> Arc<str> {
        format!("{}{tenant}{}", self.prefix, self.suffix).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any() -> TenantPolicy {
        TenantPolicy::any_tenant_dangerous()
    }

    #[test]
    fn templates() {
        let t = Tenancy::new(
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "tid".into(),
            any(),
        )
        .unwrap();
        assert_eq!(
            t.tenant_in("https://login.microsoftonline.com/abc-1/v2.0"),
            Some("abc-1")
        );
        for bad in [
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com//v2.0",
            "https://login.microsoftonline.com/a/b/v2.0",
            "https://login.microsoftonline.com/../v2.0",
            "https://login.microsoftonline.com/a?b/v2.0",
            "https://login.microsoftonline.com/abc/v2.0/",
            "https://sts.windows.net/abc/",
        ] {
            assert_eq!(t.tenant_in(bad), None, "{bad}");
        }
        assert_eq!(
            &*t.issuer_of("x"),
            "https://login.microsoftonline.com/x/v2.0"
        );
        for bad in [
            "https://login.microsoftonline.com/v2.0",
            "https://{tenant}.example.com/",
            "https://login.example.com/{a}/{b}",
            "https://login.example.com/{}/",
            "https://login.example.com/{a b}/",
            "https://login.example.com/{a/",
        ] {
            assert!(
                matches!(
                    Tenancy::new(bad, "tid".into(), any()),
                    Err(ConfigError::InvalidUrl { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Tenancy::new("https://h/{t}/", String::new(), any()),
            Err(ConfigError::EmptyClaimName { .. })
        ));
        assert!(matches!(
            Tenancy::new(
                "https://h/{t}/",
                "tid".into(),
                TenantPolicy::allow(Vec::<String>::new())
            ),
            Err(ConfigError::EmptyRequirement { .. })
        ));
        assert!(matches!(
            Tenancy::new("https://h/{t}/", "tid".into(), TenantPolicy::allow(["a/b"])),
            Err(ConfigError::InvalidUrl { .. })
        ));
    }
}
