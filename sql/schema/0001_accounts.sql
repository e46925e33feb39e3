-- Accounts: users, login sessions, refresh-token families and single-use email tokens.

CREATE TABLE users (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email             text NOT NULL,
    username          text NOT NULL,
    display_name      text NOT NULL DEFAULT '',
    bio               text NOT NULL DEFAULT '',
    password_hash     bytea NOT NULL,
    email_verified_at timestamptz,
    avatar_media_id   bigint,
    created_at        timestamptz NOT NULL DEFAULT now()
);
-- Lookups are case-insensitive; the unique indexes double as the login lookup paths.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
-- Prefix search (GET /v1/users?q=) on username and display name.
CREATE INDEX users_username_prefix ON users (lower(username) text_pattern_ops);
CREATE INDEX users_display_name_prefix ON users (lower(display_name) text_pattern_ops);

-- One row per login. Ending a session (logout, revoke, reuse detection, password reset)
-- sets ended_at; access tokens carry the session id and die with it.
CREATE TABLE sessions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    end_reason   text
);
CREATE INDEX sessions_user_live ON sessions (user_id, id) WHERE ended_at IS NULL;

-- Refresh tokens rotate: each use spends the row and inserts the next one in the same session
-- (the family). Presenting a spent token again revokes the whole family.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id bigint NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    spent_at   timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Verification and password-reset tokens, stored hashed, single use.
CREATE TABLE email_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('verify', 'reset')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires ON email_tokens (expires_at);
