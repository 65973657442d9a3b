//! Sessions: whether a presented token is still good, logging out (the
//! presented token, or every token of the user), and ending the WebSocket
//! sessions and cached verifications of an ended token — on this replica at
//! once, on the others within a second (they watch the revocations in the
//! shared database).

use std::time::Duration;

use chrono::NaiveDateTime;

use super::Context;
use crate::auth::{Credential, Revocation};
use crate::db::users::TokenEpoch;
use crate::db::{self, now};
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::transaction;

/// Refuses a token that was logged out, or issued before its user logged
/// out everywhere. A token found good recently is taken from the replica's
/// cache (see [`crate::auth::VerifiedTokens`]).
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
fn revoked(ctx: &Context, user_id: String, revocation: Revocation) {
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
