//! The tables, in portable SQL types shared by both backends. Maintained by
//! hand (not `diesel print-schema`) so that one definition serves SQLite and
//! PostgreSQL; the migrations under `migrations/{sqlite,postgres}` must agree.

diesel::table! {
    users (id) {
        id -> Text,
        email -> Nullable<Text>,
        name -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        timezone -> Text,
        last_event_seq -> BigInt,
        published_seq -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        token_epoch -> BigInt,
        tokens_valid_after -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tasks (id) {
        id -> Text,
        user_id -> Text,
        title -> Text,
        title_key -> Text,
        description -> Nullable<Text>,
        search_key -> Text,
        tag_keys -> Text,
        completed -> Bool,
        completed_at -> Nullable<Timestamp>,
        priority -> SmallInt,
        due_at -> Nullable<Timestamp>,
        recurrence_pattern -> Nullable<Text>,
        recurrence_mode -> Text,
        recurrence_end_date -> Nullable<Timestamp>,
        reminder_offset_minutes -> Nullable<Integer>,
        parent_task_id -> Nullable<Text>,
        occurrence -> Integer,
        successor_created -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tags (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        name_key -> Text,
        color -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    task_tags (task_id, tag_id) {
        task_id -> Text,
        tag_id -> Text,
    }
}

diesel::joinable!(tasks -> users (user_id));
diesel::joinable!(tags -> users (user_id));
diesel::joinable!(task_tags -> tasks (task_id));
diesel::joinable!(task_tags -> tags (tag_id));

diesel::table! {
    events (id) {
        id -> Text,
        user_id -> Text,
        seq -> BigInt,
        event_type -> Text,
        task_id -> Nullable<Text>,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    event_deliveries (event_id, topic) {
        event_id -> Text,
        topic -> Text,
        published_at -> Nullable<Timestamp>,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    processed_events (id) {
        id -> Text,
        topic -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    relay_leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(events -> users (user_id));
diesel::joinable!(event_deliveries -> events (event_id));

diesel::table! {
    revoked_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        expires_at -> Timestamp,
        revoked_at -> Timestamp,
    }
}

diesel::table! {
    reminders (id) {
        id -> Text,
        task_id -> Text,
        user_id -> Text,
        remind_at -> Timestamp,
        state -> Text,
        fired_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        scope -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        user_id -> Text,
        url -> Text,
        description -> Text,
        event_types -> Text,
        enabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        delivered_seq -> BigInt,
        cursor_epoch -> Integer,
        failures -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        disabled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        seq -> BigInt,
        event_type -> Text,
        attempt -> Integer,
        status -> Nullable<Integer>,
        latency_ms -> Double,
        error -> Nullable<Text>,
        next_retry_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        kind -> Text,
    }
}

diesel::joinable!(webhook_endpoints -> users (user_id));
diesel::joinable!(webhook_attempts -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    tasks,
    tags,
    task_tags,
    events,
    event_deliveries,
    processed_events,
    relay_leases,
    reminders,
    revoked_tokens,
    api_tokens,
    webhook_endpoints,
    webhook_attempts
);
