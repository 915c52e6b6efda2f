"""The device report as one PostgreSQL statement (see sync.services).

Plain text with no Django imports, so that bench/floor.py runs the very same SQL. It returns
one row: whether the report was stored, then the device's columns in the model's field
order (UserSyncStatus.from_db takes them as they come); no row when the first report of a
device lost a race to another one, and running it again finds that row.
"""

REPORT_SQL = """
WITH prior AS (
    SELECT id, user_id, device_id, sync_version, data_hash, last_sync_timestamp, synced_at, is_active
    FROM user_sync_status
    WHERE user_id = %(user_id)s AND device_id = %(device_id)s
    FOR UPDATE
),
stored AS (
    INSERT INTO user_sync_status AS device
        (id, user_id, device_id, sync_version, data_hash, last_sync_timestamp, synced_at, is_active)
    -- Joined to prior, so the row is locked (and any wait is over) before this runs. A
    -- stored device is offered under its own id, a new one under a new id.
    SELECT COALESCE(prior.id, %(new_id)s), %(user_id)s, %(device_id)s, %(sync_version)s, %(data_hash)s,
           %(last_sync_timestamp)s, GREATEST(%(now)s, prior.synced_at), TRUE
    FROM (VALUES (1)) AS report LEFT JOIN prior ON TRUE
    ON CONFLICT (user_id, device_id) DO UPDATE SET
        sync_version = EXCLUDED.sync_version,
        data_hash = EXCLUDED.data_hash,
        last_sync_timestamp = EXCLUDED.last_sync_timestamp,
        synced_at = EXCLUDED.synced_at,
        is_active = TRUE
    -- Newer versions are stored; the stored version and hash again only reactivate. A row
    -- that another request inserted after prior looked has another id and is left alone.
    WHERE device.id = EXCLUDED.id AND (
        device.sync_version < EXCLUDED.sync_version
        OR (device.sync_version = EXCLUDED.sync_version AND device.data_hash = EXCLUDED.data_hash
            AND NOT device.is_active)
    )
    RETURNING id, user_id, device_id, sync_version, data_hash, last_sync_timestamp, synced_at, is_active
),
counted AS (
    -- A new device, or a deactivated one reporting again, is one more active device.
    UPDATE users SET
        -- GREATEST skips a NULL; a report that read the clock earlier may commit later.
        last_sync = GREATEST(users.last_sync, stored.synced_at),
        device_count = device_count + CASE WHEN prior.id IS NULL OR NOT prior.is_active THEN 1 ELSE 0 END
    FROM stored LEFT JOIN prior ON TRUE
    WHERE users.id = %(user_id)s
)
SELECT TRUE, * FROM stored
UNION ALL
SELECT FALSE, * FROM prior WHERE NOT EXISTS (SELECT FROM stored)
"""
