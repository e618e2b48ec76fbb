//! ServiceAccount tokens: bound JWTs (ES256) issued by the TokenRequest API and verified on
//! every request that presents one, as kube-apiserver's `pkg/serviceaccount` does.
//!
//! What it guarantees:
//! - A token is this server's only when its `iss` is the configured issuer; other JWTs are
//!   left to other authenticators (and so fail as an unknown bearer token).
//! - A token is accepted only with a valid signature, `exp`/`nbf` (with go-jose's one-minute
//!   leeway), an audience among the accepted ones, and while the ServiceAccount it names — and
//!   the Pod or Secret it is bound to — still exists with the uid the token recorded.
//! - The signing key lives in the certificate directory (`sa.key`), made once; without one (the
//!   embedding default) it lives as long as the process.

use crate::auth::user::UserInfo;
use crate::rest::Rest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// The issuer kube-apiserver is usually given (`--service-account-issuer`).
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The file the signing key is kept in, in the certificate directory.
const KEY_FILE: &str = "sa.key";

/// go-jose's `DefaultLeeway`, which upstream's validation uses for `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 60;

/// A name and uid in the `kubernetes.io` claim.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectRef {
    /// The object's name.
    pub name: String,
    /// The object's uid.
    pub uid: String,
}

/// The private `kubernetes.io` claim of a bound token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KubernetesClaims {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The Pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    /// The Secret the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    /// The ServiceAccount.
    pub serviceaccount: ObjectRef,
}

/// The claims of a bound ServiceAccount token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Audiences.
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// The token's id.
    pub jti: String,
    /// Not before.
    pub nbf: i64,
    /// `system:serviceaccount:<namespace>:<name>`.
    pub sub: String,
    /// What the token is bound to.
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

/// What a token is bound to besides its ServiceAccount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// A Pod (the token is valid while it exists).
    Pod(ObjectRef),
    /// A Secret.
    Secret(ObjectRef),
}

/// The server's ServiceAccount token issuer and verifier.
pub struct ServiceAccountTokens {
    issuer: String,
    audiences: Vec<String>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    x: String,
    y: String,
    verified: super::verified_tokens::VerifiedTokens,
}

impl std::fmt::Debug for ServiceAccountTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountTokens")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountTokens {
    /// The issuer with the signing key in `dir` (made there when missing), or a key of this
    /// process only when `dir` is `None`. Tokens are accepted for `audiences` (upstream's
    /// `--api-audiences`, which defaults to the issuer).
    pub fn new(
        dir: Option<&Path>,
        issuer: &str,
        audiences: Vec<String>,
    ) -> Result<Self, crate::tls::pki::PkiError> {
        let err = |e: rcgen::Error| crate::tls::pki::PkiError::Certificate(e.to_string());
        let key = match dir.map(|d| d.join(KEY_FILE)) {
            Some(path) => match std::fs::read_to_string(&path) {
                Ok(pem) => rcgen::KeyPair::from_pem(&pem).map_err(err)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let key = rcgen::KeyPair::generate().map_err(err)?;
                    crate::tls::pki::write_file(&path, &key.serialize_pem(), true)?;
                    key
                }
                Err(source) => return Err(crate::tls::pki::PkiError::Io { path, source }),
            },
            None => rcgen::KeyPair::generate().map_err(err)?,
        };
        let point = key.public_key_raw();
        // An uncompressed P-256 point: 0x04, then x and y of 32 bytes each.
        if point.len() != 65 {
            return Err(crate::tls::pki::PkiError::Certificate(
                "the ServiceAccount signing key is not an ECDSA P-256 key".into(),
            ));
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..]);
        let encoding = EncodingKey::from_ec_pem(key.serialize_pem().as_bytes())
            .map_err(|e| crate::tls::pki::PkiError::Certificate(e.to_string()))?;
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| crate::tls::pki::PkiError::Certificate(e.to_string()))?;
        // As upstream's keyIDFromPublicKey: the SHA-256 of the DER public key, base64url.
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        let kid = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &spki));
        let audiences = if audiences.is_empty() {
            vec![issuer.to_string()]
        } else {
            audiences
        };
        Ok(ServiceAccountTokens {
            issuer: issuer.to_string(),
            audiences,
            encoding,
            decoding,
            kid,
            x,
            y,
            verified: Default::default(),
        })
    }

    /// The issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audiences tokens are issued for by default and accepted for by requests.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// The claims of a token for ServiceAccount `namespace/name` (uid `uid`) valid for
    /// `seconds` from now.
    pub fn claims(
        &self,
        namespace: &str,
        service_account: ObjectRef,
        audiences: Vec<String>,
        seconds: i64,
        binding: Option<Binding>,
    ) -> Claims {
        let now = jiff::Timestamp::now().as_second();
        let (pod, secret) = match binding {
            Some(Binding::Pod(p)) => (Some(p), None),
            Some(Binding::Secret(s)) => (None, Some(s)),
            None => (None, None),
        };
        Claims {
            aud: if audiences.is_empty() {
                self.audiences.clone()
            } else {
                audiences
            },
            exp: now + seconds,
            iat: now,
            iss: self.issuer.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            sub: format!(
                "{}{namespace}:{}",
                crate::auth::user::SERVICE_ACCOUNT_PREFIX,
                service_account.name
            ),
            kubernetes: KubernetesClaims {
                namespace: namespace.to_string(),
                pod,
                secret,
                serviceaccount: service_account,
            },
        }
    }

    /// Whether `token` is a JWT this server issued (by its `iss`, unverified).
    fn is_ours(&self, token: &str) -> bool {
        let mut parts = token.split('.');
        let (Some(_), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|claims| claims["iss"].as_str() == Some(self.issuer.as_str()))
    }

    /// The user of `token`: `None` when it is not this server's token, else the user or why
    /// the token is not valid. `audiences` are those a TokenReview asks for (`None`: the
    /// server's own).
    pub fn validate(
        &self,
        rest: &Rest,
        token: &str,
        audiences: Option<&[String]>,
    ) -> Option<Result<UserInfo, String>> {
        if !self.is_ours(token) {
            return None;
        }
        Some(self.verify(rest, token, audiences.unwrap_or(&self.audiences)))
    }

    fn verify(&self, rest: &Rest, token: &str, audiences: &[String]) -> Result<UserInfo, String> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let claims = match self.verified.get(token) {
            // The signature verified before: only what changes with time is checked again.
            Some(claims) => {
                let leeway = LEEWAY_SECONDS as i64;
                if claims.exp < now - leeway {
                    return Err("service account token has expired".into());
                }
                if claims.nbf > now + leeway {
                    return Err("service account token is not valid yet".into());
                }
                if !claims.aud.iter().any(|a| audiences.contains(a)) {
                    return Err(format!(
                        "token audiences {:?} is invalid for the target audiences {:?}",
                        claims.aud, audiences
                    ));
                }
                claims
            }
            None => {
                let claims = self.decode(token, audiences)?;
                self.verified.insert(token, claims.clone(), now);
                claims
            }
        };
        let k = &claims.kubernetes;
        let expected_sub = format!(
            "{}{}:{}",
            crate::auth::user::SERVICE_ACCOUNT_PREFIX,
            k.namespace,
            k.serviceaccount.name
        );
        if claims.sub != expected_sub {
            return Err("invalid bearer token".into());
        }
        check_uid(
            rest,
            "serviceaccounts",
            &k.namespace,
            &k.serviceaccount,
            "service account",
        )?;
        if let Some(pod) = &k.pod {
            check_uid(rest, "pods", &k.namespace, pod, "pod")?;
        }
        if let Some(secret) = &k.secret {
            check_uid(rest, "secrets", &k.namespace, secret, "secret")?;
        }
        let mut user = UserInfo::authenticated(
            &claims.sub,
            k.serviceaccount.uid.clone(),
            vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{}", k.namespace),
            ],
        );
        let mut extra = BTreeMap::new();
        extra.insert(
            "authentication.kubernetes.io/credential-id".to_string(),
            vec![format!("JTI={}", claims.jti)],
        );
        if let Some(pod) = &k.pod {
            extra.insert(
                "authentication.kubernetes.io/pod-name".to_string(),
                vec![pod.name.clone()],
            );
            extra.insert(
                "authentication.kubernetes.io/pod-uid".to_string(),
                vec![pod.uid.clone()],
            );
        }
        user.extra = extra;
        Ok(user)
    }

    /// `token`'s claims, its signature, issuer, audience and times checked.
    fn decode(&self, token: &str, audiences: &[String]) -> Result<Claims, String> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(audiences);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let decoded = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    "service account token has expired".to_string()
                }
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                    "service account token is not valid yet".to_string()
                }
                jsonwebtoken::errors::ErrorKind::InvalidAudience => format!(
                    "token audiences {:?} is invalid for the target audiences {:?}",
                    unverified_audiences(token),
                    audiences
                ),
                _ => "invalid bearer token".to_string(),
            },
        )?;
        Ok(decoded.claims)
    }

    /// The OpenID provider configuration (`/.well-known/openid-configuration`); the JWKS is at
    /// `https://<address>/openid/v1/jwks`.
    pub fn openid_configuration(&self, address: &str) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("https://{address}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }

    /// The public keys tokens are signed with (`/openid/v1/jwks`).
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "use": "sig",
            "kty": "EC",
            "kid": self.kid,
            "crv": "P-256",
            "alg": "ES256",
            "x": self.x,
            "y": self.y,
        }]})
    }
}

/// The `aud` of a token, read without verifying it (for the message of a mismatch).
fn unverified_audiences(token: &str) -> Vec<String> {
    token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .map(|c| match &c["aud"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default()
}

/// `Ok` when `namespace/reference.name` of `resource` exists with the uid the token names, else
/// upstream's reason.
fn check_uid(
    rest: &Rest,
    resource: &str,
    namespace: &str,
    reference: &ObjectRef,
    what: &str,
) -> Result<(), String> {
    let rt = rest
        .catalog
        .snapshot()
        .find("", "v1", resource)
        .ok_or_else(|| format!("{resource} are not served"))?;
    let object = rest
        .get(&rt, Some(namespace), &reference.name)
        .map_err(|e| e.message)?;
    #[derive(Deserialize)]
    struct Meta {
        metadata: MetaUid,
    }
    #[derive(Deserialize)]
    struct MetaUid {
        #[serde(default)]
        uid: String,
    }
    let uid = serde_json::from_slice::<Meta>(&object.json)
        .map(|m| m.metadata.uid)
        .unwrap_or_default();
    if uid != reference.uid {
        return Err(format!(
            "{what} UID ({uid}) does not match claim ({})",
            reference.uid
        ));
    }
    Ok(())
}
