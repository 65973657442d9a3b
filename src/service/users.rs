//! Sign-up, login and the user's own profile.

use std::net::IpAddr;

use serde::Deserialize;
use utoipa::ToSchema;

use super::Context;
use crate::auth::throttle::Wait;
use crate::db::users::UserRow;
use crate::domain::time::to_utc;
use crate::domain::user::{Email, Password, User, UserId, parse_name, parse_timezone};
use crate::domain::{Problems, fold_case};
use crate::error::AppError;
use crate::{db, transaction};

/// Body of `POST /api/auth/signup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupInput {
    #[schema(value_type = crate::domain::schema::EmailAddress)]
    pub email: String,
    #[schema(value_type = crate::domain::schema::NewPassword)]
    pub password: String,
    #[schema(value_type = Option<crate::domain::schema::DisplayName>)]
    pub name: Option<String>,
    /// IANA time zone, default UTC.
    #[schema(value_type = Option<crate::domain::schema::TimeZone>)]
    pub timezone: Option<String>,
}

/// Body of `POST /api/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

/// Body of `PATCH /api/auth/me`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Empty clears it; absent or `null` leaves it.
    #[schema(value_type = Option<crate::domain::schema::DisplayName>)]
    pub name: Option<String>,
    #[schema(value_type = Option<crate::domain::schema::TimeZone>)]
    pub timezone: Option<String>,
}

fn view(row: UserRow) -> User {
    User {
        id: row.id,
        email: row.email,
        name: row.name,
        timezone: row.timezone,
        created_at: to_utc(row.created_at),
    }
}

/// Creates an account and returns it with a fresh token. Each client
/// address has an hourly allowance of sign-ups (which also bounds how fast
/// anyone can probe which addresses have accounts).
pub async fn signup(
    ctx: &Context,
    input: SignupInput,
    client: IpAddr,
) -> Result<(User, String), AppError> {
    let mut p = Problems::new();
    let email = p.check("email", Email::parse(&input.email));
    let password = p.check("password", Password::parse(input.password));
    let name = input
        .name
        .as_deref()
        .map(|n| p.check("name", parse_name(n)));
    let tz = input
        .timezone
        .as_deref()
        .map(|t| p.check("timezone", parse_timezone(t)));
    p.finish()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(AppError::internal("validated fields missing"));
    };
    let name = name.flatten().flatten();
    let tz = tz.flatten().map_or("UTC", |t| t.name()).to_owned();
    ctx.throttle
        .check_signup(client)
        .map_err(|Wait(retry_after)| AppError::TooManyRequests {
            retry_after,
            message: "too many sign-ups from this address: try again later",
        })?;
    let hash = ctx.passwords.hash(password).await?;
    let id = UserId::generate();
    let row = UserRow::new(
        id.as_str(),
        Some(email.as_str()),
        name,
        Some(hash),
        &tz,
        ctx.now(),
    );
    let taken = || {
        AppError::conflict(
            "email_taken",
            "an account with this e-mail address already exists",
        )
    };
    let row = transaction!(ctx.db, |conn| {
        if db::users::find_by_email(conn, email.as_str())
            .await?
            .is_some()
        {
            return Err(taken());
        }
        db::users::insert(conn, &row)
            .await
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict { .. } => taken(),
                other => other,
            })?;
        Ok(row)
    })?;
    let token = ctx.jwt.issue(&id, row.token_epoch)?;
    Ok((view(row), token))
}

/// Checks credentials; unknown e-mail and wrong password look the same.
/// Repeated failures make further attempts wait (see [`crate::auth::throttle`]);
/// a waiting attempt is refused before any password is hashed.
pub async fn login(
    ctx: &Context,
    input: LoginInput,
    client: IpAddr,
) -> Result<(User, String), AppError> {
    let refused = AppError::Unauthorized("invalid e-mail or password");
    let email = Email::parse(&input.email).ok();
    // Malformed addresses are throttled too, under a bounded key.
    let account = email.as_ref().map_or_else(
        || fold_case(input.email.trim()).chars().take(254).collect(),
        |e| e.as_str().to_owned(),
    );
    ctx.throttle
        .check_login(&account, client)
        .map_err(|Wait(retry_after)| AppError::TooManyRequests {
            retry_after,
            message: "too many failed logins: wait before trying again",
        })?;
    let row = match &email {
        Some(email) => {
            let mut pooled = ctx.db.get().await?;
            db::users::find_by_email(&mut pooled.conn(), email.as_str()).await?
        }
        None => None,
    };
    let hash = row.as_ref().and_then(|r| r.password_hash.clone());
    let row = match (ctx.passwords.verify(input.password, hash).await?, row) {
        (true, Some(row)) => row,
        _ => {
            ctx.throttle.login_failed(&account, client);
            return Err(refused);
        }
    };
    ctx.throttle.login_succeeded(&account, client);
    let id = UserId::parse(&row.id).map_err(AppError::internal)?;
    let token = ctx.jwt.issue(&id, row.token_epoch)?;
    Ok((view(row), token))
}

/// The caller's profile; an external identity's row is created on first use.
pub async fn me(ctx: &Context, user: &UserId) -> Result<User, AppError> {
    let mut pooled = ctx.db.get().await?;
    if let Some(row) = db::users::find(&mut pooled.conn(), user.as_str()).await? {
        return Ok(view(row));
    }
    drop(pooled);
    let row = transaction!(ctx.db, |conn| {
        db::users::ensure(conn, user.as_str(), ctx.now()).await?;
        db::users::find(conn, user.as_str())
            .await?
            .ok_or(AppError::NotFound("user"))
    })?;
    Ok(view(row))
}

/// Changes the caller's name and/or time zone.
pub async fn update_me(
    ctx: &Context,
    user: &UserId,
    patch: ProfilePatch,
) -> Result<User, AppError> {
    let mut p = Problems::new();
    let name = patch
        .name
        .as_deref()
        .map(|n| p.check("name", parse_name(n)));
    let tz = patch
        .timezone
        .as_deref()
        .map(|t| p.check("timezone", parse_timezone(t)));
    p.finish()?;
    let name = name.map(Option::flatten);
    let tz = tz.flatten().map(|t| t.name().to_owned());
    let row = transaction!(ctx.db, |conn| {
        db::users::ensure(conn, user.as_str(), ctx.now()).await?;
        Ok(db::users::update_profile(conn, user.as_str(), name, tz, ctx.now()).await?)
    })?;
    Ok(view(row))
}
