-- Rewrites the queue's hashes and sets after a sweep emptied most of them.
-- Redis shrinks the table of a hash or a set on a delete only when no
-- rehash of it is under way, so thousands of deletes in a row leave it
-- sized for its peak: 1.6 MB for the 1,000 entries left of 100,000, against
-- 0.5 MB for the same entries written afresh. Copying what is left into a
-- new key of the same name frees that table. One script: nothing runs in
-- between, so no worker sees a key missing or half filled.
--
-- KEYS: hashes and sets (other types and missing keys are left alone)
-- ARGV[1]: entries per command (Lua's unpack has a limit)
local per = tonumber(ARGV[1])

for _, key in ipairs(KEYS) do
    local kind = redis.call('TYPE', key).ok
    if kind == 'hash' then
        local all = redis.call('HGETALL', key)
        redis.call('DEL', key)
        for i = 1, #all, 2 * per do
            redis.call('HSET', key, unpack(all, i, math.min(i + 2 * per - 1, #all)))
        end
    elseif kind == 'set' then
        local all = redis.call('SMEMBERS', key)
        redis.call('DEL', key)
        for i = 1, #all, per do
            redis.call('SADD', key, unpack(all, i, math.min(i + per - 1, #all)))
        end
    end
end

return 1
