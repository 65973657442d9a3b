//! Personal API tokens: what an assistant or a script is configured with.
//! The secret (`tsk_` and 64 hex digits: 256 random bits) is shown once, at
//! creation; only its SHA-256 is stored. A token is scoped `read` or
//! `write`, may expire, and is revoked at once (its cached verifications and
//! WebSocket sessions end with it, on every replica).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Context;
use super::sessions::API_TOKEN_PREFIX;
use crate::auth::{Credential, CredentialKind, Revocation, Scope, token_hash};
use crate::db;
use crate::db::api_tokens::ApiTokenRow;
use crate::domain::Problems;
use crate::domain::time::to_utc;
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::transaction;

/// Most active tokens one user may hold.
pub const MAX_TOKENS: usize = 50;
/// Longest expiry, in days (ten years).
pub const MAX_EXPIRY_DAYS: i64 = 3650;
/// Longest token name, in characters.
pub const MAX_NAME: usize = 100;
/// How stale `last_used_at` may get before a use is recorded again.
const USE_RECORDED_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// Body of `POST /api/auth/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenInput {
    /// What it is for, e.g. "Claude on my laptop".
    #[schema(value_type = crate::domain::schema::TokenName)]
    pub name: String,
    pub scope: Scope,
    /// Days until it stops working (1–3650); never, when absent.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<crate::domain::Integer>,
}

/// An API token as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// `null`: it does not expire.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token just created, with its secret — shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewApiToken {
    #[serde(flatten)]
    pub token: ApiToken,
    /// `tsk_…`: use it as `Authorization: Bearer <secret>`. It cannot be
    /// shown again.
    pub secret: String,
}

fn view(row: ApiTokenRow) -> Result<ApiToken, AppError> {
    Ok(ApiToken {
        id: Uuid::parse_str(&row.id).map_err(AppError::internal)?,
        name: row.name,
        scope: row.scope.parse().map_err(AppError::internal)?,
        created_at: to_utc(row.created_at),
        last_used_at: row.last_used_at.map(to_utc),
        expires_at: row.expires_at.map(to_utc),
    })
}

/// Creates a token for the user.
pub async fn create(
    ctx: &Context,
    user: &UserId,
    input: ApiTokenInput,
) -> Result<NewApiToken, AppError> {
    let mut p = Problems::new();
    let name = p.check("name", parse_name(&input.name));
    let days = input.expires_in_days.map(|d| {
        p.check(
            "expires_in_days",
            (1..=MAX_EXPIRY_DAYS)
                .contains(&d.0)
                .then_some(d.0)
                .ok_or_else(|| format!("must be from 1 to {MAX_EXPIRY_DAYS}")),
        )
    });
    p.finish()?;
    let name = name.ok_or_else(|| AppError::internal("validated name missing"))?;
    let now = ctx.now();
    let secret = format!(
        "{API_TOKEN_PREFIX}{}",
        rand::random::<[u8; 32]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let row = ApiTokenRow {
        id: Uuid::now_v7().to_string(),
        user_id: user.as_str().to_owned(),
        name,
        scope: input.scope.as_str().to_owned(),
        token_hash: token_hash(&secret),
        created_at: now,
        last_used_at: None,
        expires_at: days.flatten().map(|d| now + chrono::Duration::days(d)),
        revoked_at: None,
    };
    transaction!(ctx.db, |conn| {
        db::users::ensure(conn, user.as_str(), now).await?;
        if db::api_tokens::active_of(conn, user.as_str()).await?.len() >= MAX_TOKENS {
            return Err(AppError::conflict(
                "too_many_tokens",
                format!("a user holds at most {MAX_TOKENS} API tokens: revoke one first"),
            ));
        }
        db::api_tokens::insert(conn, &row).await?;
        Ok(())
    })?;
    Ok(NewApiToken {
        token: view(row)?,
        secret,
    })
}

fn parse_name(s: &str) -> Result<String, String> {
    crate::domain::no_control_chars(s)?;
    crate::domain::at_most(s, MAX_NAME)?;
    match s.trim() {
        "" => Err("must not be empty".into()),
        name => Ok(name.to_owned()),
    }
}

/// The user's tokens that are not revoked.
pub async fn list(ctx: &Context, user: &UserId) -> Result<Vec<ApiToken>, AppError> {
    let mut pooled = ctx.db.get().await?;
    db::api_tokens::active_of(&mut pooled.conn(), user.as_str())
        .await?
        .into_iter()
        .map(view)
        .collect()
}

/// Revokes the user's token `id` at once (another user's id: not found).
pub async fn revoke(ctx: &Context, user: &UserId, id: Uuid) -> Result<(), AppError> {
    let now = ctx.now();
    let revoked = transaction!(ctx.db, |conn| {
        let row = db::api_tokens::revoke(conn, user.as_str(), &id.to_string(), now)
            .await?
            .ok_or(AppError::NotFound("API token"))?;
        // Also where every replica's watcher looks: a day is ample for it.
        db::users::revoke_token(
            conn,
            &row.token_hash,
            user.as_str(),
            now + chrono::Duration::days(1),
            now,
        )
        .await?;
        Ok(row)
    })?;
    super::sessions::revoked(
        ctx,
        user.as_str().to_owned(),
        Revocation::Token(revoked.token_hash),
    );
    Ok(())
}

/// The credential of the API token with this hash, if it is good.
pub(crate) async fn confirm(ctx: &Context, hash: &str) -> Result<Credential, AppError> {
    let now = ctx.now();
    let row = {
        let mut pooled = ctx.db.get().await?;
        db::api_tokens::by_hash(&mut pooled.conn(), hash).await?
    }
    .ok_or(AppError::Unauthorized("invalid token"))?;
    if row.revoked_at.is_some() {
        return Err(AppError::Unauthorized("token has been revoked"));
    }
    if row.expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::Unauthorized("token has expired"));
    }
    if row
        .last_used_at
        .is_none_or(|at| now - at >= USE_RECORDED_EVERY)
    {
        let mut pooled = ctx.db.get().await?;
        db::api_tokens::used(&mut pooled.conn(), &row.id, now).await?;
    }
    let timestamp = |at: NaiveDateTime| at.and_utc().timestamp();
    Ok(Credential {
        user: UserId::parse(&row.user_id).map_err(AppError::internal)?,
        token_hash: row.token_hash,
        epoch: None,
        issued_at: timestamp(row.created_at),
        expires_at: row.expires_at.map_or(i64::MAX, timestamp),
        scope: row.scope.parse().map_err(AppError::internal)?,
        kind: CredentialKind::ApiToken(row.id),
    })
}
