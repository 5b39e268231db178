//! The diesel schema, shared by both backends (see `migrations/postgres` and
//! `migrations/sqlite`; only column types both understand are used).

diesel::table! {
    apps (name) {
        name -> Text,
        active_release -> Nullable<Text>,
        deadline_seconds -> Integer,
        seq -> BigInt,
        created_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    builds (id) {
        id -> Text,
        app -> Text,
        seq -> BigInt,
        release -> Text,
        description -> Text,
        git_sha -> Nullable<Text>,
        git_message -> Nullable<Text>,
        manifest -> Text,
        actor -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    releases (id) {
        id -> Text,
        app -> Text,
        seq -> BigInt,
        build -> Nullable<Text>,
        env -> Text,
        description -> Text,
        actor -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    deployments (id) {
        id -> Text,
        app -> Text,
        seq -> BigInt,
        release -> Text,
        previous_release -> Nullable<Text>,
        status -> Text,
        reason -> Nullable<Text>,
        deadline_at -> Timestamp,
        minimum -> Nullable<Integer>,
        maximum -> Nullable<Integer>,
        actor -> Text,
        trace_id -> Nullable<Text>,
        traceparent -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        cancel_requested_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        lease_epoch -> BigInt,
        queued_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        id -> Text,
        app -> Text,
        deployment -> Nullable<Text>,
        kind -> Text,
        data -> Text,
        actor -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tokens (id) {
        id -> Text,
        name -> Text,
        hash -> Text,
        scope -> Text,
        apps -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (token, key) {
        token -> Text,
        key -> Text,
        fingerprint -> Text,
        status -> Nullable<Integer>,
        body -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        url -> Text,
        kind -> Text,
        events -> Text,
        apps -> Text,
        description -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        disabled_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        actor -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    deliveries (seq) {
        seq -> BigInt,
        id -> Text,
        webhook -> Text,
        event -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
        lock_owner -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        traceparent -> Nullable<Text>,
    }
}

diesel::table! {
    seal_check (id) {
        id -> Integer,
        sealed -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    supervisors (app) {
        app -> Text,
        owner -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    processes (id) {
        id -> Text,
        app -> Text,
        service -> Text,
        release -> Text,
        status -> Text,
        restarts -> Integer,
        port -> Nullable<Integer>,
        started_at -> Timestamp,
    }
}

diesel::table! {
    log_lines (seq) {
        seq -> BigInt,
        app -> Text,
        service -> Text,
        instance -> Text,
        at -> Timestamp,
        line -> Text,
    }
}

diesel::table! {
    log_counts (app) {
        app -> Text,
        lines -> BigInt,
    }
}

diesel::table! {
    webhook_generation (id) {
        id -> Integer,
        generation -> BigInt,
    }
}

diesel::table! {
    log_offsets (instance) {
        instance -> Text,
        app -> Text,
        next -> BigInt,
    }
}

diesel::table! {
    domains (domain) {
        domain -> Text,
        app -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        token -> Text,
        csrf_secret -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_seen -> Timestamp,
    }
}

diesel::joinable!(deliveries -> webhooks (webhook));

diesel::allow_tables_to_appear_in_same_query!(
    apps,
    builds,
    releases,
    deployments,
    events,
    tokens,
    idempotency_keys,
    webhooks,
    deliveries,
    seal_check,
    supervisors,
    processes,
    log_lines,
    log_counts,
    log_offsets,
    webhook_generation,
    domains,
    sessions
);
