-- WeChat logins: which WeChat user (openid, under the mini program's appid) may log in as
-- which account. One openid per account and one account per openid. WeChat's session_key
-- is never stored. Binary collation: openids are case-sensitive.
CREATE TABLE IF NOT EXISTS wechat_bindings (
    openid VARCHAR(64) NOT NULL,
    user_id BIGINT NOT NULL,
    appid VARCHAR(64) NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (openid),
    UNIQUE KEY wechat_bindings_user (user_id),
    CONSTRAINT wechat_bindings_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
