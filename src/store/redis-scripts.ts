/**
 * The Lua scripts of the Redis store: every change touching more than one key
 * is one of these, so it happens atomically. Each script's header documents
 * its KEYS and ARGV; every key arrives in KEYS, built by redis-keys.ts (no
 * script builds a key name). Registered with ioredis's defineCommand, so they
 * run by EVALSHA and fall back to EVAL when Redis does not know them (first
 * use on a connection, or after a restart emptied the script cache).
 *
 * Domain outcomes (user exists, not found, not the owner) are return values,
 * not error replies: an error reply always means something is wrong with
 * Redis or with imp.
 *
 * Session records are JSON; scripts read `nodeId` from them and the update
 * script re-encodes one (cjson keeps 14 significant digits: enough for
 * ms timestamps for the next three thousand years).
 */

/** numberOfKeys omitted: the caller passes the key count as the first argument. */
export interface ScriptDef { numberOfKeys?: number; lua: string }

export const SCRIPTS = {
  /**
   * Creates a user.
   * KEYS[1] user hash   KEYS[2] credentials   KEYS[3] users index
   * ARGV[1] userId      ARGV[2] credentials JSON   ARGV[3..] field, value pairs of the user hash
   * Returns 1 when created, 0 when the user already exists (nothing written).
   */
  impUserCreate: {
    numberOfKeys: 3,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return 1`,
  },

  /**
   * Updates a user's fields and, when given, replaces its credentials.
   * KEYS[1] user hash   KEYS[2] credentials
   * ARGV[1] credentials JSON, or '' to keep them
   * ARGV[2] n, the number of field, value pairs that follow (>= 1: updatedAt always changes)
   * ARGV[3 .. 2+2n] field, value pairs to set   ARGV[3+2n ..] fields to delete (cleared to null)
   * Returns the user hash after the change (flat HGETALL), or nil when there is no such user.
   */
  impUserUpdate: {
    numberOfKeys: 2,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + 2 * n))
if #ARGV > 2 + 2 * n then redis.call('HDEL', KEYS[1], unpack(ARGV, 3 + 2 * n)) end
if ARGV[1] ~= '' then redis.call('SET', KEYS[2], ARGV[1]) end
return redis.call('HGETALL', KEYS[1])`,
  },

  /**
   * Removes a user with its credentials, offline messages, roster, block list and last presence.
   * KEYS[1] user hash   KEYS[2] credentials   KEYS[3] users index
   * KEYS[4] offline messages   KEYS[5] offline id counter
   * KEYS[6] roster   KEYS[7] roster version   KEYS[8] watchers   KEYS[9] hidden items
   * KEYS[10] block list   KEYS[11] last presence
   * ARGV[1] userId
   * Returns 1 when removed, 0 when there was no such user (nothing deleted).
   */
  impUserRemove: {
    numberOfKeys: 11,
    lua: `
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2], unpack(KEYS, 4))
redis.call('ZREM', KEYS[3], ARGV[1])
return 1`,
  },

  /**
   * Applies a batch of roster writes (one for put/remove, two for putPair),
   * all or none: every limit is checked first, as if the writes applied in
   * order (so two writes to one roster see each other), then all are written.
   * The watcher and hidden sets change with their item, so they never
   * disagree with the roster. An item's old state is read from those sets
   * rather than by decoding its JSON.
   * Per write i = 0 .. n-1:
   *   KEYS[4i+1] roster hash   KEYS[4i+2] roster version   KEYS[4i+3] watchers   KEYS[4i+4] hidden items
   *   ARGV[4i+3] contact jid   ARGV[4i+4] item JSON, or '' to remove the item
   *   ARGV[4i+5] '1' if the item is visible   ARGV[4i+6] '1' if its subscription is from/both
   * ARGV[1] maxContacts   ARGV[2] maxWatchers (integers)
   * Returns {0, v1, w1, ..., vn, wn} when applied: vi the roster's version
   * after write i, wi 1 if it wrote (0: a removal of an absent item, which
   * changes nothing and reports the current version).
   * Returns {i, 1} (maxContacts) or {i, 2} (maxWatchers) when write i (1-based)
   * would pass a limit, with nothing written. Variadic: the caller passes 4n as the key count.
   */
  impRosterApply: {
    lua: `
local maxC, maxW = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = #KEYS / 4
local tally, seen, plan = {}, {}, {}
for i = 1, n do
  local rk, wk, hk = KEYS[4 * i - 3], KEYS[4 * i - 1], KEYS[4 * i]
  local jid, json = ARGV[4 * i - 1], ARGV[4 * i]
  local t = tally[rk]
  if not t then
    t = {c = redis.call('HLEN', rk) - redis.call('SCARD', hk), w = redis.call('SCARD', wk)}
    tally[rk] = t
    seen[rk] = {}
  end
  local old = seen[rk][jid]
  if not old then
    if redis.call('HEXISTS', rk, jid) == 1 then
      old = {e = true, v = redis.call('SISMEMBER', hk, jid) == 0, w = redis.call('SISMEMBER', wk, jid) == 1}
    else
      old = {e = false, v = false, w = false}
    end
  end
  local put = json ~= ''
  local nu = {e = put, v = put and ARGV[4 * i + 1] == '1', w = put and ARGV[4 * i + 2] == '1'}
  if nu.v and not old.v and t.c + 1 > maxC then return {i, 1} end
  if nu.w and not old.w and t.w + 1 > maxW then return {i, 2} end
  if nu.v ~= old.v then t.c = t.c + (nu.v and 1 or -1) end
  if nu.w ~= old.w then t.w = t.w + (nu.w and 1 or -1) end
  seen[rk][jid] = nu
  plan[i] = {old = old, nu = nu}
end
local out = {0}
for i = 1, n do
  local rk, vk, wk, hk = KEYS[4 * i - 3], KEYS[4 * i - 2], KEYS[4 * i - 1], KEYS[4 * i]
  local jid, p = ARGV[4 * i - 1], plan[i]
  if p.nu.e then
    redis.call('HSET', rk, jid, ARGV[4 * i])
    if p.nu.v then redis.call('SREM', hk, jid) else redis.call('SADD', hk, jid) end
    if p.nu.w then redis.call('SADD', wk, jid) else redis.call('SREM', wk, jid) end
    out[2 * i] = redis.call('INCR', vk)
    out[2 * i + 1] = 1
  elseif p.old.e then
    redis.call('HDEL', rk, jid)
    redis.call('SREM', hk, jid)
    redis.call('SREM', wk, jid)
    out[2 * i] = redis.call('INCR', vk)
    out[2 * i + 1] = 1
  else
    out[2 * i] = tonumber(redis.call('GET', vk) or '0')
    out[2 * i + 1] = 0
  end
end
return out`,
  },

  /**
   * Appends an offline message unless the user already holds max of them.
   * KEYS[1] offline messages   KEYS[2] offline id counter
   * ARGV[1] max   ARGV[2] message JSON ({stanza, storedAt})
   * Returns the new message's id, or 0 when full (nothing written, no id used).
   */
  impOfflinePush: {
    numberOfKeys: 2,
    lua: `
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
local id = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], id, id .. ':' .. ARGV[2])
return id`,
  },

  /**
   * Registers (or replaces) a session and moves it into its node's index.
   * The caller names the owner it expects to find (read just before), so the
   * old owner's index key can be passed in KEYS; if another node got there
   * first, nothing is written and the caller reads again and retries.
   * KEYS[1] the user's sessions hash   KEYS[2] the new owner's node index
   * KEYS[3] the expected current owner's node index (KEYS[2] again when none is expected)
   * ARGV[1] resource   ARGV[2] sessionRef   ARGV[3] the new record JSON
   * ARGV[4] the expected current owner's nodeId, '' when no record is expected
   * Returns {1, replaced record JSON or nil} when done, {0, current record JSON or nil} on a lost race.
   */
  impSessionRegister: {
    numberOfKeys: 3,
    lua: `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local owner = ''
if cur then owner = cjson.decode(cur).nodeId end
if owner ~= ARGV[4] then return {0, cur} end
if cur then redis.call('SREM', KEYS[3], ARGV[2]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[2])
return {1, cur}`,
  },

  /**
   * Changes priority/availability/presence of a session, only if nodeId still owns it.
   * KEYS[1] the user's sessions hash
   * ARGV[1] resource   ARGV[2] nodeId   ARGV[3] priority or '' (keep)   ARGV[4] '1' / '0' available, or '' (keep)
   * ARGV[5] presence: '' keep, '0' set to null, '1' set to ARGV[6]   ARGV[6] the presence stanza ('' unless ARGV[5] is '1')
   * Returns 1 when changed, 0 when absent or owned by another node.
   */
  impSessionUpdate: {
    numberOfKeys: 1,
    lua: `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local rec = cjson.decode(cur)
if rec.nodeId ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' then rec.priority = tonumber(ARGV[3]) end
if ARGV[4] ~= '' then rec.available = (ARGV[4] == '1') end
if ARGV[5] == '1' then rec.presence = ARGV[6] elseif ARGV[5] == '0' then rec.presence = cjson.null end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1`,
  },

  /**
   * The presence hot path (SessionStore.publish), all in one script so that
   * what it writes and what it reads are one instant: records the session's
   * availability, priority and presence, then collects the available
   * sessions of the user's watchers (minus those the user blocks) and, with
   * probe, those of the contacts the user is subscribed to (to/both; minus
   * those that block the user), with their presence.
   *
   * It reads keys it is not given: each local watcher's and contact's
   * sessions hash (ARGV[10] .. userId) and, with probe, each contact's block
   * list (ARGV[11] .. userId). Fine on one Redis; under Redis Cluster those
   * keys would have to share a slot (docs/redis-keys.md).
   *
   * KEYS[1] the user's sessions hash   KEYS[2] the user's watchers set
   * KEYS[3] the user's block list      KEYS[4] the user's roster hash (read only with probe)
   * ARGV[1] resource   ARGV[2] nodeId (the owner expected)   ARGV[3] '1' / '0' available   ARGV[4] priority
   * ARGV[5] '1' when ARGV[6] is the presence stanza, '0' for null   ARGV[6] the stanza, or ''
   * ARGV[7] '1' to probe the contacts   ARGV[8] '@' .. domain (a JID is local when it ends so, with a localpart before)
   * ARGV[9] the user's bare JID (what a contact's block list would hold)
   * ARGV[10] the sessions key prefix   ARGV[11] the block list key prefix (RedisKeys.sessionsPrefix / blocksPrefix)
   * Returns nil (nothing written) when the session is absent or owned by
   * another node; else {watchers, contacts}, two flat arrays: watchers
   * holds userId, resource, nodeId, priority per available session,
   * contacts userId, resource, nodeId, priority, presence (nil when none).
   */
  impPresencePublish: {
    numberOfKeys: 4,
    lua: `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
local decode = cjson.decode
local rec = decode(cur)
if rec.nodeId ~= ARGV[2] then return false end
rec.available = ARGV[3] == '1'
rec.priority = tonumber(ARGV[4])
if ARGV[5] == '1' then rec.presence = ARGV[6] else rec.presence = cjson.null end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))

local suffix, sp = ARGV[8], ARGV[10]
local sl, sub = #suffix, string.sub
local function localpart(jid)
  local n = #jid - sl
  if n > 0 and sub(jid, n + 1) == suffix then return sub(jid, 1, n) end
  return nil
end

local w, nw = {}, 0
local jids = redis.call('SMEMBERS', KEYS[2])
if #jids > 0 then
  -- Blocks: none (the usual case) costs one SCARD; a short list is read
  -- whole; a list longer than the watchers is asked per watcher.
  local nb = redis.call('SCARD', KEYS[3])
  local blocked
  if nb > 0 and nb <= #jids then
    blocked = {}
    for _, b in ipairs(redis.call('SMEMBERS', KEYS[3])) do blocked[b] = true end
  end
  for i = 1, #jids do
    local jid = jids[i]
    local id = localpart(jid)
    if id and nb > 0 then
      if blocked then
        if blocked[jid] then id = nil end
      elseif redis.call('SISMEMBER', KEYS[3], jid) == 1 then
        id = nil
      end
    end
    if id then
      local vals = redis.call('HVALS', sp .. id)
      for j = 1, #vals do
        local s = decode(vals[j])
        if s.available == true then
          w[nw + 1], w[nw + 2], w[nw + 3], w[nw + 4] = id, s.resource, s.nodeId, s.priority
          nw = nw + 4
        end
      end
    end
  end
end

local c, nc = {}, 0
if ARGV[7] == '1' then
  local me, bp = ARGV[9], ARGV[11]
  local items = redis.call('HGETALL', KEYS[4])
  for i = 1, #items, 2 do
    local id = localpart(items[i])
    if id then
      local subscription = decode(items[i + 1]).subscription
      if (subscription == 'to' or subscription == 'both') and redis.call('SISMEMBER', bp .. id, me) == 0 then
        local vals = redis.call('HVALS', sp .. id)
        for j = 1, #vals do
          local s = decode(vals[j])
          if s.available == true then
            local p = s.presence
            if type(p) ~= 'string' then p = false end
            c[nc + 1], c[nc + 2], c[nc + 3], c[nc + 4], c[nc + 5] = id, s.resource, s.nodeId, s.priority, p
            nc = nc + 5
          end
        end
      end
    end
  end
end
return {w, c}`,
  },

  /**
   * Removes a session and its node-index entry, only if nodeId still owns it.
   * KEYS[1] the user's sessions hash   KEYS[2] the node's index
   * ARGV[1] resource   ARGV[2] sessionRef   ARGV[3] nodeId
   * Returns 1 when removed, 0 when absent or owned by another node.
   */
  impSessionUnregister: {
    numberOfKeys: 2,
    lua: `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur or cjson.decode(cur).nodeId ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1`,
  },

  /**
   * Purges one batch of a node's sessions. Every ref passed leaves the node's
   * index; its session is deleted only if that node still owns it (a session
   * re-registered elsewhere survives).
   * KEYS[1] the node's index   KEYS[2 .. m+1] the sessions hash of each ref's user
   * ARGV[1] nodeId   then for i = 1..m: ARGV[2i] sessionRef, ARGV[2i+1] its resource
   * Returns how many sessions were deleted. Variadic: the caller passes m + 1 as the key count.
   */
  impSessionPurge: {
    lua: `
local removed = 0
for i = 2, #KEYS do
  local ref, res = ARGV[2 * (i - 1)], ARGV[2 * (i - 1) + 1]
  local cur = redis.call('HGET', KEYS[i], res)
  if cur and cjson.decode(cur).nodeId == ARGV[1] then
    redis.call('HDEL', KEYS[i], res)
    removed = removed + 1
  end
  redis.call('SREM', KEYS[1], ref)
end
return removed`,
  },
} satisfies Record<string, ScriptDef>;

export type ScriptName = keyof typeof SCRIPTS;
