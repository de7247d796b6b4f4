-- WeChat logins: which WeChat user (openid, under the mini program's appid) may log in as
-- which account. One openid per account and one account per openid. WeChat's session_key
-- is never stored.
CREATE TABLE IF NOT EXISTS wechat_bindings (
    openid TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    appid TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
