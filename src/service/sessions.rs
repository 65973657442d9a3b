//! Sessions: whether a presented token is still good, logging out (the
//! presented token, or every token of the user), and ending the WebSocket
//! sessions and cached verifications of an ended token — on this replica at
//! once, on the others within a second (they watch the revocations in the
//! shared database).

use std::time::Duration;

use chrono::NaiveDateTime;

use super::Context;
use crate::auth::{Credential, CredentialKind, Revocation};
use crate::db::users::TokenEpoch;
use crate::db::{self, now};
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::transaction;

/// A presented bearer token, checked as far as it can be without the
/// database.
#[derive(Debug, Clone)]
pub enum Presented {
    /// A login token (JWT) whose signature and expiry checked out.
    Login(Credential),
    /// A personal API token (`tsk_…`), known by its hash.
    ApiToken { token_hash: String },
}

/// The prefix every personal API token starts with.
pub const API_TOKEN_PREFIX: &str = "tsk_";

/// Reads a presented bearer token: a personal API token by its prefix,
/// anything else as a login token (401 when forged or expired).
pub fn present(ctx: &Context, token: &str) -> Result<Presented, AppError> {
    if token.starts_with(API_TOKEN_PREFIX) {
        return Ok(Presented::ApiToken {
            token_hash: crate::auth::token_hash(token),
        });
    }
    ctx.jwt.verify(token).map(Presented::Login)
}

/// What the replica's cache says about a presented token: its credential
/// when the database recently found it good.
pub fn cached(ctx: &Context, presented: &Presented) -> Option<Credential> {
    match presented {
        Presented::Login(credential) => ctx
            .verified
            .is_known_good(credential)
            .then(|| credential.clone()),
        Presented::ApiToken { token_hash } => ctx
            .verified
            .get(token_hash)
            .filter(|c| c.expires_at > ctx.now().and_utc().timestamp()),
    }
}

/// Confirms a presented token with the database: not revoked, not expired,
/// and (for an API token) what it is. A use of an API token is recorded at
/// most about once a minute.
pub async fn confirm(ctx: &Context, presented: Presented) -> Result<Credential, AppError> {
    match presented {
        Presented::Login(credential) => {
            check(ctx, &credential).await?;
            Ok(credential)
        }
        Presented::ApiToken { token_hash } => {
            let credential = super::api_tokens::confirm(ctx, &token_hash).await?;
            ctx.verified.remember(&credential);
            Ok(credential)
        }
    }
}

/// Refuses a login token that was logged out, or issued before its user
/// logged out everywhere. A token found good recently is taken from the
/// replica's cache (see [`crate::auth::VerifiedTokens`]).
pub async fn check(ctx: &Context, credential: &Credential) -> Result<(), AppError> {
    if ctx.verified.is_known_good(credential) {
        return Ok(());
    }
    let mut pooled = ctx.db.get().await?;
    let (epoch, revoked) = db::users::token_state(
        &mut pooled.conn(),
        credential.user.as_str(),
        &credential.token_hash,
    )
    .await?;
    let ended = revoked || epoch.is_some_and(|e| ended_by_epoch(credential, e));
    if ended {
        return Err(AppError::Unauthorized("token has been revoked"));
    }
    ctx.verified.remember(credential);
    Ok(())
}

/// Acts on a revocation in this replica: forgets the verifications it ends
/// and closes the WebSocket sessions of the tokens it ends.
pub(crate) fn revoked(ctx: &Context, user_id: String, revocation: Revocation) {
    ctx.verified.forget(&user_id, &revocation);
    ctx.revocations.announce(user_id, revocation);
}

fn everywhere(epoch: TokenEpoch) -> Option<Revocation> {
    epoch.valid_after.map(|valid_after| Revocation::Before {
        epoch: epoch.epoch,
        valid_after,
    })
}

fn ended_by_epoch(credential: &Credential, epoch: TokenEpoch) -> bool {
    everywhere(epoch).is_some_and(|r| credential.is_ended_by(&r))
}

/// Ends the presented token (REST, WebSocket and every other way in).
pub async fn logout(ctx: &Context, credential: &Credential) -> Result<(), AppError> {
    if let CredentialKind::ApiToken(id) = &credential.kind {
        let id = uuid::Uuid::parse_str(id).map_err(AppError::internal)?;
        return super::api_tokens::revoke(ctx, &credential.user, id).await;
    }
    let expires_at = chrono::DateTime::from_timestamp(credential.expires_at, 0)
        .map_or_else(now, |t| t.naive_utc());
    transaction!(ctx.db, |conn| {
        db::users::revoke_token(
            conn,
            &credential.token_hash,
            credential.user.as_str(),
            expires_at,
            ctx.now(),
        )
        .await?;
        Ok(())
    })?;
    revoked(
        ctx,
        credential.user.as_str().to_owned(),
        Revocation::Token(credential.token_hash.clone()),
    );
    Ok(())
}

/// Ends every token the user holds, the presented one included.
pub async fn logout_everywhere(ctx: &Context, user: &UserId) -> Result<(), AppError> {
    let epoch = transaction!(ctx.db, |conn| {
        db::users::ensure(conn, user.as_str(), ctx.now()).await?;
        Ok(db::users::next_token_epoch(conn, user.as_str(), ctx.now()).await?)
    })?;
    if let Some(revocation) = everywhere(epoch) {
        revoked(ctx, user.as_str().to_owned(), revocation);
    }
    Ok(())
}

/// How often other replicas' revocations are looked for.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How far back each look reaches beyond the previous one: a revocation
/// committed late, or stamped by a replica whose clock is a little behind,
/// is still seen (seeing one twice is harmless).
const WATCH_OVERLAP: chrono::Duration = chrono::Duration::seconds(3);

/// Acts in this replica on the revocations other replicas made.
pub async fn watch_revocations(ctx: Context) {
    let mut since: NaiveDateTime = ctx.now() - WATCH_OVERLAP;
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let started = ctx.now();
        match revocations_since(&ctx, since).await {
            Ok(found) => {
                for (user_id, revocation) in found {
                    revoked(&ctx, user_id, revocation);
                }
                since = started - WATCH_OVERLAP;
            }
            Err(e) => {
                slog::warn!(ctx.log, "could not read revocations; retrying"; "error" => e.chain());
            }
        }
    }
}

async fn revocations_since(
    ctx: &Context,
    since: NaiveDateTime,
) -> Result<Vec<(String, Revocation)>, AppError> {
    let mut pooled = ctx.db.get().await?;
    let conn = &mut pooled.conn();
    let tokens = db::users::tokens_revoked_since(conn, since).await?;
    let users = db::users::epochs_changed_since(conn, since).await?;
    Ok(tokens
        .into_iter()
        .map(|(user, hash)| (user, Revocation::Token(hash)))
        .chain(
            users
                .into_iter()
                .filter_map(|(user, epoch)| everywhere(epoch).map(|r| (user, r))),
        )
        .collect())
}
