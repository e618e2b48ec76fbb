//! The ServiceAccount tokens whose signature has been verified, with their claims: what
//! kube-apiserver's token cache (`k8s.io/apiserver/pkg/authentication/token/cache`) saves, so a
//! client that presents the same token on every request pays the ES256 verification once.
//!
//! What it guarantees:
//! - Only the signature check is skipped on a hit: expiry, not-before, the audience and (by the
//!   caller) the ServiceAccount's and bound object's existence are checked on every request, so a
//!   cached token stops working the moment it expires or its ServiceAccount is deleted (upstream's
//!   cache keeps whole results for 10 s; this one never answers from stale state).
//! - Bounded: at most [`CAPACITY`] tokens; when full, expired entries go, then everything.

use super::service_account::Claims;
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// The most tokens kept.
pub const CAPACITY: usize = 4096;

/// Tokens with a verified signature, by the token itself.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    tokens: RwLock<HashMap<Box<str>, Claims>>,
}

impl VerifiedTokens {
    /// The claims of `token` if its signature was verified before.
    pub fn get(&self, token: &str) -> Option<Claims> {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned()
    }

    /// Remembers that `token`'s signature verified, with its `claims`; `now` (seconds since the
    /// epoch) decides which entries have expired when the cache is full.
    pub fn insert(&self, token: &str, claims: Claims, now: i64) {
        let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= CAPACITY && !tokens.contains_key(token) {
            tokens.retain(|_, c| c.exp > now);
            if tokens.len() >= CAPACITY {
                tokens.clear();
            }
        }
        tokens.insert(token.into(), claims);
    }

    /// How many tokens are kept.
    pub fn len(&self) -> usize {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no token is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authn::service_account::{KubernetesClaims, ObjectRef};

    fn claims(exp: i64) -> Claims {
        Claims {
            aud: vec!["a".into()],
            exp,
            iat: 0,
            iss: "i".into(),
            jti: "j".into(),
            nbf: 0,
            sub: "system:serviceaccount:ns:sa".into(),
            kubernetes: KubernetesClaims {
                namespace: "ns".into(),
                pod: None,
                secret: None,
                serviceaccount: ObjectRef {
                    name: "sa".into(),
                    uid: "u".into(),
                },
            },
        }
    }

    #[test]
    fn a_verified_token_is_found_by_its_text() {
        let cache = VerifiedTokens::default();
        assert!(cache.get("t1").is_none());
        cache.insert("t1", claims(100), 0);
        assert_eq!(cache.get("t1"), Some(claims(100)));
        assert!(cache.get("t2").is_none());
    }

    #[test]
    fn a_full_cache_drops_expired_tokens_first_then_everything() {
        let cache = VerifiedTokens::default();
        for i in 0..CAPACITY {
            // Half expired at time 50.
            let exp = if i % 2 == 0 { 10 } else { 100 };
            cache.insert(&format!("t{i}"), claims(exp), 0);
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.insert("new", claims(100), 50);
        assert_eq!(cache.len(), CAPACITY / 2 + 1);
        assert!(cache.get("t1").is_some() && cache.get("t0").is_none());
        for i in 0..CAPACITY {
            cache.insert(&format!("u{i}"), claims(100), 50);
        }
        assert!(cache.len() <= CAPACITY);
    }
}
