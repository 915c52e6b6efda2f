// The peer: the benchmarked routes as the original Node stack served them, one process.
// Express 5 + pg + jsonwebtoken + bcryptjs, with the statements the Django app runs (the
// suite counts them on the wire) and the same JWT checks. Express computes the scripts' and the
// app configuration's ETags itself (weak, over the body) and answers a matching If-None-Match
// with 304.
// Backup payloads are files in the app's storage folder (BACKUP_STORAGE_DIR) under the app's
// keys, their rows carry the key, as the app's filesystem storage keeps them.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs/promises');
const path = require('node:path');
const express = require('express');
const jwt = require('jsonwebtoken');
const bcrypt = require('bcryptjs');
const pg = require('pg');

pg.types.setTypeParser(20, (value) => parseInt(value, 10)); // bigint columns as numbers

const JWT_SECRET = process.env.JWT_SECRET;
const ACCESS_SECONDS = parseInt(process.env.JWT_ACCESS_SECONDS || '900', 10);
const REFRESH_SECONDS = parseInt(process.env.JWT_REFRESH_DAYS || '30', 10) * 86400;
const BACKUP_KEEP = parseInt(process.env.BACKUP_KEEP || '10', 10);
// The app's default folder (persona.settings) unless the environment names another.
const BACKUP_STORAGE_DIR = process.env.BACKUP_STORAGE_DIR || path.join(__dirname, '..', '..', '..', 'backup-payloads');
const STARTED_AT = process.hrtime.bigint();
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

const FAMILY_AND_USER = `
SELECT f.id, f.user_id, f.device_id, f.current_jti, f.previous_jti, f.rotated_at, f.created_at,
       f.expires_at, f.revoked_at, u.password, u.last_login, u.is_superuser, u.id AS uid, u.email,
       u.is_active, u.is_staff, u.created_at AS user_created_at, u.last_sync, u.device_count
FROM token_families f INNER JOIN users u ON f.user_id = u.id
WHERE f.id = $1 AND f.revoked_at IS NULL AND u.is_active AND f.user_id = $2
ORDER BY f.id ASC LIMIT 1`;
const DEVICE_COLUMNS = 'id, user_id, device_id, sync_version, data_hash, last_sync_timestamp, synced_at, is_active';
const BACKUP_META = 'id, user_id, backup_date, data_size, checksum, device_id, sync_version, idempotency_key';
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '11mb' }));

const authenticate = async (req, res, next) => {
  const header = req.get('authorization') || '';
  if (!header.startsWith('Bearer ')) {
    return res.status(401).json({ detail: 'Authentication credentials were not provided.' });
  }
  let claims;
  try {
    claims = jwt.verify(header.slice(7), JWT_SECRET, { algorithms: ['HS256'] });
  } catch {
    return res.status(401).json({ detail: 'Given token not valid for any token type' });
  }
  if (claims.token_type !== 'access' || !UUID.test(claims.fam || '') || !UUID.test(claims.user_id || '')) {
    return res.status(401).json({ detail: 'Given token not valid for any token type' });
  }
  const { rows } = await pool.query(FAMILY_AND_USER, [claims.fam, claims.user_id]);
  if (rows.length === 0) return res.status(401).json({ detail: 'Token is invalid or revoked.' });
  req.user = rows[0];
  next();
};

app.get('/health', (req, res) => {
  res.json({
    status: 'OK',
    message: 'Persona Backend - Ultra-lightweight server',
    timestamp: new Date().toISOString(),
    uptime: Number(process.hrtime.bigint() - STARTED_AT) / 1e9,
  });
});

app.post('/api/auth/login', async (req, res) => {
  const email = String(req.body.email || '').trim().toLowerCase();
  const { rows } = await pool.query(
    'SELECT password, last_login, is_superuser, id, email, is_active, is_staff, created_at, last_sync,' +
      ' device_count FROM users WHERE email = $1 LIMIT 21',
    [email],
  );
  const user = rows[0];
  const digest = crypto.createHash('sha256').update(String(req.body.password || '')).digest('hex');
  const hash = user ? user.password.replace(/^bcrypt_sha256\$/, '') : '';
  if (!user || !user.is_active || !(await bcrypt.compare(digest, hash))) {
    return res.status(401).json({ detail: 'Invalid email or password.' });
  }
  const family = crypto.randomUUID();
  const jti = crypto.randomUUID().replace(/-/g, '');
  const claims = { user_id: user.id, fam: family };
  const refresh = jwt.sign({ token_type: 'refresh', jti, ...claims }, JWT_SECRET, { expiresIn: REFRESH_SECONDS });
  const access = jwt.sign({ token_type: 'access', jti: crypto.randomUUID().replace(/-/g, ''), ...claims },
    JWT_SECRET, { expiresIn: ACCESS_SECONDS });
  await pool.query(
    'INSERT INTO token_families (id, user_id, device_id, current_jti, previous_jti, rotated_at, created_at,' +
      " expires_at, revoked_at) VALUES ($1, $2, $3, $4, '', NULL, now(), now() + $5 * interval '1 second', NULL)",
    [family, user.id, req.body.device_id || '', jti, REFRESH_SECONDS],
  );
  res.json({
    user: { id: user.id, email: user.email, created_at: user.created_at, last_sync: user.last_sync,
      device_count: user.device_count },
    access,
    refresh,
  });
});

app.get('/api/ai/scripts', authenticate, async (req, res) => {
  const { rows } = await pool.query(
    'SELECT id, script_name, version, script_content, is_active, created_at, updated_at' +
      ' FROM ai_scripts WHERE is_active ORDER BY script_name ASC',
  );
  res.set('Cache-Control', 'private, no-cache');
  res.json(rows.map((r) => ({ script_name: r.script_name, version: r.version,
    script_content: r.script_content, updated_at: r.updated_at })));
});

// The floor's work (bench/floor.py), not a port of the app's rules: the newest version's number
// on every request, its document once per version, and each parameter's default. The
// benchmark's request matches no rule, so the answers are the app's.
let config = { number: null, defaults: {}, minimum: null };
const parseVersion = (text) => {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(text || ''); // major.minor.patch only
  return match ? match.slice(1).map(Number) : null;
};
const olderThan = (version, minimum) => {
  const index = version.findIndex((part, i) => part !== minimum[i]);
  return index >= 0 && version[index] < minimum[index];
};

app.get('/api/config/app-config', async (req, res) => {
  const { rows } = await pool.query(
    'SELECT number, published_at FROM app_config_versions ORDER BY number DESC LIMIT 1');
  const number = rows.length ? rows[0].number : 0;
  if (config.number !== number) {
    const found = await pool.query('SELECT document FROM app_config_versions WHERE number = $1', [number]);
    const parameters = found.rows.length ? found.rows[0].document.parameters : {};
    const defaults = Object.fromEntries(Object.keys(parameters).sort().map((key) => [key, parameters[key].default]));
    config = { number, defaults, minimum: parseVersion(defaults.minimum_app_version) };
  }
  const version = parseVersion(req.get('x-app-version'));
  res.set({ 'Cache-Control': 'private, no-cache', Vary: 'Authorization, X-Platform, X-App-Version' });
  res.json({ config_version: number, parameters: config.defaults,
    update_required: Boolean(config.minimum && version && olderThan(version, config.minimum)) });
});

const deviceJson = (row) => ({ device_id: row.device_id, sync_version: row.sync_version, data_hash: row.data_hash,
  last_sync_timestamp: row.last_sync_timestamp, synced_at: row.synced_at, is_active: row.is_active });

app.post('/api/sync/status', authenticate, async (req, res) => {
  const { device_id: deviceId, sync_version: version, data_hash: dataHash } = req.body;
  const userId = req.user.uid;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query(
      `SELECT ${DEVICE_COLUMNS} FROM user_sync_status WHERE user_id = $1 AND device_id = $2` +
        ' ORDER BY id ASC LIMIT 1 FOR UPDATE',
      [userId, deviceId],
    );
    const now = new Date();
    let row = rows[0];
    if (!row) {
      row = { id: crypto.randomUUID(), device_id: deviceId, sync_version: version, data_hash: dataHash,
        last_sync_timestamp: null, synced_at: now, is_active: true };
      await client.query(`INSERT INTO user_sync_status (${DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL, $6, true)`,
        [row.id, userId, deviceId, version, dataHash, now]);
      await client.query('UPDATE users SET last_sync = $1, device_count = device_count + 1 WHERE id = $2', [now, userId]);
      await client.query('COMMIT');
      return res.status(201).json(deviceJson(row));
    }
    if (version < row.sync_version || (version === row.sync_version && dataHash !== row.data_hash)) {
      await client.query('COMMIT');
      return res.status(409).json({ detail: 'Rejected.', code: 'stale_version', device: deviceJson(row) });
    }
    if (row.is_active && version === row.sync_version) {
      await client.query('COMMIT');
      return res.json(deviceJson(row));
    }
    const added = row.is_active ? 0 : 1;
    await client.query('UPDATE user_sync_status SET sync_version = $1, data_hash = $2, last_sync_timestamp = NULL,' +
      ' synced_at = $3, is_active = true WHERE id = $4', [version, dataHash, now, row.id]);
    await client.query('UPDATE users SET last_sync = $1, device_count = device_count + $2 WHERE id = $3',
      [now, added, userId]);
    await client.query('COMMIT');
    res.json(deviceJson({ ...row, sync_version: version, data_hash: dataHash, last_sync_timestamp: null,
      synced_at: now, is_active: true }));
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
});

app.get('/api/sync/status/:deviceId', authenticate, async (req, res) => {
  const { rows } = await pool.query(
    `SELECT ${DEVICE_COLUMNS} FROM user_sync_status WHERE user_id = $1 AND device_id = $2` +
      ' ORDER BY synced_at DESC, device_id ASC LIMIT 1',
    [req.user.uid, req.params.deviceId],
  );
  if (rows.length === 0) return res.status(404).json({ detail: 'Not found.' });
  res.json(deviceJson(rows[0]));
});

const backupJson = (row) => ({ id: row.id, backup_date: row.backup_date, data_size: row.data_size,
  checksum: row.checksum, device_id: row.device_id, sync_version: row.sync_version });

app.post('/api/sync/backup', authenticate, async (req, res) => {
  const data = req.body.encrypted_data;
  const size = Buffer.byteLength(data, 'utf8');
  const digest = crypto.createHash('sha256').update(data, 'utf8').digest('hex');
  if (digest !== String(req.body.checksum).toLowerCase()) {
    return res.status(400).json({ checksum: ['Does not match the SHA-256 of encrypted_data.'] });
  }
  const userId = req.user.uid;
  const id = crypto.randomUUID();
  const now = new Date();
  const key = `backups/${userId}/${id}`;
  // As the app: the payload is stored before its row exists, and pruned ones go after commit.
  await fs.mkdir(path.join(BACKUP_STORAGE_DIR, 'backups', userId), { recursive: true });
  await fs.writeFile(path.join(BACKUP_STORAGE_DIR, key), data, 'utf8');
  const client = await pool.connect();
  let pruned;
  try {
    await client.query('BEGIN');
    await client.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId]);
    await client.query('INSERT INTO user_backups (id, user_id, storage_key, backup_date, data_size, checksum,' +
      " device_id, sync_version, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, '', NULL, '')",
    [id, userId, key, now, size, digest]);
    const { rows } = await client.query('SELECT id FROM user_backups WHERE user_id = $1 AND NOT id = $2' +
      ' ORDER BY backup_date DESC, id DESC LIMIT $3', [userId, id, Math.max(BACKUP_KEEP, 1) - 1]);
    pruned = await client.query('DELETE FROM user_backups WHERE user_id = $1 AND NOT id = ANY($2)' +
      ' RETURNING storage_key', [userId, [id, ...rows.map((r) => r.id)]]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
  await Promise.all(pruned.rows.map((r) => fs.rm(path.join(BACKUP_STORAGE_DIR, r.storage_key), { force: true })));
  res.status(201).json(backupJson({ id, backup_date: now, data_size: size, checksum: digest, device_id: '',
    sync_version: null }));
});

app.get('/api/sync/backup', authenticate, async (req, res) => {
  const { rows } = await pool.query(
    `SELECT ${BACKUP_META} FROM user_backups WHERE user_id = $1 ORDER BY backup_date DESC, id DESC`, [req.user.uid]);
  res.json(rows.map(backupJson));
});

app.get('/api/sync/backup/latest', authenticate, async (req, res) => {
  const { rows } = await pool.query(
    `SELECT ${BACKUP_META}, storage_key FROM user_backups WHERE user_id = $1` +
      ' ORDER BY backup_date DESC, id DESC LIMIT 1', [req.user.uid]);
  if (rows.length === 0) return res.status(404).json({ detail: 'There is no backup yet.' });
  const data = await fs.readFile(path.join(BACKUP_STORAGE_DIR, rows[0].storage_key), 'utf8');
  res.json({ ...backupJson(rows[0]), encrypted_data: data });
});

app.use((req, res) => res.status(404).json({ detail: 'Not found.' }));
// Express 5 hands rejected promises here.
app.use((error, req, res, next) => { // eslint-disable-line no-unused-vars
  console.error(error);
  res.status(error.status && error.status < 500 ? error.status : 500).json({ detail: 'Server error.' });
});

app.listen(parseInt(process.env.PORT || '3000', 10), '127.0.0.1');
