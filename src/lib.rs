//! oauth2-guard: OAuth2 resource-server middleware for tower and axum.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod crypto;

#[cfg(feature = "testkit")]
pub mod testkit;
