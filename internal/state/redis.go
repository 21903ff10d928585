package state

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/moatmcp/moat/internal/manifest"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds one Redis operation: on loopback or in one
	// data centre a check takes well under a millisecond, so 250ms is
	// only ever reached when something is wrong.
	DefaultTimeout = 250 * time.Millisecond
	// DefaultProbeInterval is how often a store that is down pings Redis
	// to find it back.
	DefaultProbeInterval = 500 * time.Millisecond
	// DefaultPrefix starts every key moat writes.
	DefaultPrefix = "moat:"

	maxPasswordBytes = 4096
	// maxKeyPart is the longest principal, address or tool name used in a
	// key as given; longer ones are hashed (a JWT subject can be
	// kilobytes).
	maxKeyPart = 64
)

// Options configure Redis. A nil *Options is not valid: URL is required.
type Options struct {
	// URL is redis://HOST:PORT/DB or rediss://HOST:PORT/DB (TLS, system
	// roots). It must not carry a password. Required.
	URL string
	// Password authenticates to Redis (AUTH); "" means none. Read it with
	// ReadPassword, never from the URL.
	Password string
	// Prefix starts every key; "" means DefaultPrefix ("moat:"). Replicas
	// that share limits must use the same prefix.
	Prefix string
	// Timeout bounds every operation; 0 means DefaultTimeout (250ms).
	Timeout time.Duration
	// ProbeInterval is how often a store that is down retries; 0 means
	// DefaultProbeInterval (500ms).
	ProbeInterval time.Duration
	// OnChange is called once per transition, up (err nil) or down (err
	// says why), never once per request: the host logs it and sets its
	// gauge. It is called first from Open with the initial state. nil =
	// nobody is told.
	OnChange func(err error)
}

// Redis is the Store replicas share: Lua scripts on one Redis server
// (or a primary with replicas behind Sentinel; not Redis Cluster, whose
// keys of one script would have to share a hash slot).
//
// # Notes
//
//   - Safe for concurrent use.
//   - While Redis is down, every method fails at once with ErrUnavailable;
//     a background probe (a write, so a read-only replica or a full Redis
//     counts as down too) finds it back, and service resumes by itself.
type Redis struct {
	client  *redis.Client
	prefix  string
	timeout time.Duration
	probe   time.Duration
	change  func(error)

	down    atomic.Bool
	mu      sync.Mutex // guards downErr and probing
	downErr error
	probing bool
	closed  chan struct{}
	wg      sync.WaitGroup
}

var _ Store = (*Redis)(nil)

// ErrConfig wraps every error of Open's options.
var ErrConfig = errors.New("state store config")

// Open makes a Redis store and probes it once (bounded by the timeout).
// An unreachable Redis is not an error here: the store starts down and
// keeps probing, so that a replica started before its Redis becomes ready
// by itself. Only bad options are errors.
func Open(opts *Options) (*Redis, error) {
	if opts == nil || opts.URL == "" {
		return nil, fmt.Errorf("%w: no url", ErrConfig)
	}
	ro, err := ParseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	s := &Redis{prefix: opts.Prefix, timeout: opts.Timeout, probe: opts.ProbeInterval, change: opts.OnChange, closed: make(chan struct{})}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.probe <= 0 {
		s.probe = DefaultProbeInterval
	}
	if s.change == nil {
		s.change = func(error) {}
	}
	ro.Password = opts.Password
	ro.DialTimeout = 4 * s.timeout
	ro.ReadTimeout = s.timeout
	ro.WriteTimeout = s.timeout
	ro.PoolTimeout = s.timeout
	ro.MaxRetries = -1 // a retry doubles the wait; the next request retries anyway
	ro.ContextTimeoutEnabled = true
	ro.DisableIdentity = true
	ro.Protocol = 2
	s.client = redis.NewClient(ro)

	if err := s.ping(); err != nil {
		s.setDown(err)
	} else {
		s.change(nil)
	}
	return s, nil
}

// ParseURL checks a [state] url (manifest.CheckRedisURL: scheme redis
// or rediss, a host and a port, an optional database number, no password,
// query or fragment) and returns the client options it makes.
func ParseURL(raw string) (*redis.Options, error) {
	if msg := manifest.CheckRedisURL(raw); msg != "" {
		return nil, fmt.Errorf("%w: url: %s", ErrConfig, msg)
	}
	ro, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: url: %w", ErrConfig, err)
	}
	if ro.TLSConfig != nil {
		ro.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return ro, nil
}

// ReadPassword reads the Redis password from file (its first line) or, if
// file is "", from the environment variable env. Both "" means no
// password. The password is never logged; errors name only the file or
// variable.
func ReadPassword(file, env string) (string, error) {
	switch {
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("state password_file %s: %w", file, err)
		}
		defer f.Close()
		buf := make([]byte, maxPasswordBytes+1)
		n, _ := f.Read(buf)
		if n > maxPasswordBytes {
			return "", fmt.Errorf("state password_file %s: longer than %d bytes", file, maxPasswordBytes)
		}
		pw, _, _ := strings.Cut(string(buf[:n]), "\n")
		pw = strings.TrimSuffix(pw, "\r")
		if pw == "" {
			return "", fmt.Errorf("state password_file %s: empty", file)
		}
		return pw, nil
	case env != "":
		pw, ok := os.LookupEnv(env)
		if !ok || pw == "" {
			return "", fmt.Errorf("state password_env: $%s is not set", env)
		}
		if len(pw) > maxPasswordBytes {
			return "", fmt.Errorf("state password_env: $%s is longer than %d bytes", env, maxPasswordBytes)
		}
		return pw, nil
	}
	return "", nil
}

// Health implements Store.
func (s *Redis) Health() error {
	if !s.down.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downErr
}

// Close implements Store: it stops the probe and closes the connections.
func (s *Redis) Close() error {
	s.mu.Lock() // setDown starts the probe under mu: no probe starts after this
	select {
	case <-s.closed:
		s.mu.Unlock()
		return nil
	default:
	}
	close(s.closed)
	s.mu.Unlock()
	s.wg.Wait()
	return s.client.Close()
}

// key is the Redis key of part in table: the prefix, the table, and part
// as given when short, else its SHA-256 (so a key's size is bounded).
func (s *Redis) key(table, part string) string {
	if len(part) > maxKeyPart {
		sum := sha256.Sum256([]byte(part))
		part = hex.EncodeToString(sum[:]) + "#"
	}
	return s.prefix + table + ":" + part
}

// Scripts. Times are microseconds of Redis's own clock (TIME): Lua numbers
// are doubles, exact for integers up to 2^53 (year 2255 in µs). A reply
// {0, 0} is success, {i, wait} a refusal by key i, {-1, i} a key i of
// another type or shape (ErrCorrupt).

// gcraScript is the generic cell rate algorithm over every key at once:
// ARGV holds each key's emission interval T (µs per event) and burst. A
// key holds its theoretical arrival time (TAT); an event is allowed when
// TAT+T-burst·T <= now. All keys are checked before any is written, so a
// refusal takes nothing. Each key expires when its bucket is full again.
// ARGV[2n+1] = "1" only peeks (Limited).
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
for i, key in ipairs(KEYS) do
  local T = tonumber(ARGV[2*i-1])
  local burst = tonumber(ARGV[2*i])
  local v = redis.pcall('GET', key)
  if type(v) == 'table' then return {-1, i} end
  local tat = now
  if v then
    tat = tonumber(v)
    if tat == nil or tat ~= tat then return {-1, i} end
    if tat < now then tat = now end
  end
  local newtat = tat + T
  local allowAt = newtat - T * burst
  if allowAt > now then return {i, math.ceil(allowAt - now)} end
  tats[i] = newtat
end
if ARGV[2*#KEYS+1] == '1' then return {0, 0} end
for i, key in ipairs(KEYS) do
  local ttl = math.ceil((tats[i] - now) / 1000) + 1
  redis.call('SET', key, string.format('%.0f', tats[i]), 'PX', ttl)
end
return {0, 0}
`)

// acquireScript adds ARGV[1] to every sorted set in KEYS (score: when the
// slot lapses) unless one already holds its ARGV[3+i-1] members; lapsed
// slots are dropped first. A member already present is refreshed, never
// refused. ARGV[2] is the slot's ttl in µs; a max of -1 means no cap
// (Touch). Each set expires with its last slot.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local member = ARGV[1]
local ttl = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local r = redis.pcall('ZREMRANGEBYSCORE', key, '-inf', now)
  if type(r) == 'table' and r.err then return {-1, i} end
  local max = tonumber(ARGV[2+i])
  if max >= 0 and not redis.call('ZSCORE', key, member) then
    if redis.call('ZCARD', key) >= max then return {i, 0} end
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, string.format('%.0f', now + ttl), member)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', key, math.ceil((tonumber(last[2]) - now) / 1000) + 1)
end
return {0, 0}
`)

// releaseScript removes ARGV[1] from every sorted set in KEYS.
var releaseScript = redis.NewScript(`
for i, key in ipairs(KEYS) do
  local r = redis.pcall('ZREM', key, ARGV[1])
  if type(r) == 'table' and r.err then return {-1, i} end
end
return {0, 0}
`)

// countScript drops KEYS[1]'s lapsed slots and counts the rest.
var countScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local r = redis.pcall('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if type(r) == 'table' and r.err then return {-1, 1} end
return {0, redis.call('ZCARD', KEYS[1])}
`)

// usageScript adds ARGV[2..] to the fields 1..n of the hash KEYS[1] and
// returns {pttl, total1, …, totaln}; ARGV[1] is the window in ms, set as
// the key's expiry when the add creates it (a fixed window: the first
// add starts it). An all-zero add only reads. {-1} means the key is not
// a hash (ErrCorrupt).
var usageScript = redis.NewScript(`
local key = KEYS[1]
local t = redis.call('TYPE', key)
local kind = t.ok or t
if kind ~= 'hash' and kind ~= 'none' then return {-1} end
local write = false
for i = 2, #ARGV do
  if tonumber(ARGV[i]) ~= 0 then write = true end
end
local out = {0}
for i = 2, #ARGV do
  local f = tostring(i - 1)
  local v
  if write then
    v = redis.call('HINCRBY', key, f, ARGV[i])
  else
    v = tonumber(redis.call('HGET', key, f) or '0')
    if v == nil then return {-1} end
  end
  out[i] = v
end
local pttl = redis.call('PTTL', key)
if write and pttl < 0 then
  redis.call('PEXPIRE', key, ARGV[1])
  pttl = tonumber(ARGV[1])
end
if pttl < 0 then pttl = 0 end
out[1] = pttl
return out
`)

// AddUsage implements Store.
func (s *Redis) AddUsage(ctx context.Context, key string, window time.Duration, delta []int64) ([]int64, time.Duration, error) {
	if len(delta) == 0 || len(delta) > MaxUsageCounters || window < time.Millisecond {
		return nil, 0, ErrUsageCounters
	}
	if s.down.Load() {
		return nil, 0, s.Health()
	}
	args := make([]any, 0, len(delta)+1)
	args = append(args, window.Milliseconds())
	for _, d := range delta {
		args = append(args, d)
	}
	k := s.key("usage", key)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, err := usageScript.Run(ctx, s.client, []string{k}, args...).Int64Slice()
	if err == nil && len(v) == 1 && v[0] == -1 {
		return nil, 0, fmt.Errorf("%w: %s", ErrCorrupt, k)
	}
	if err == nil && len(v) != len(delta)+1 {
		err = errors.New("unexpected script reply")
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
		s.setDown(err)
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return v[1:], time.Duration(v[0]) * time.Millisecond, nil
}

// Allow implements Store.
func (s *Redis) Allow(ctx context.Context, checks ...Check) (Result, error) {
	return s.gcra(ctx, false, checks)
}

// Limited implements Store.
func (s *Redis) Limited(ctx context.Context, c Check) (Result, error) {
	return s.gcra(ctx, true, []Check{c})
}

func (s *Redis) gcra(ctx context.Context, peek bool, checks []Check) (Result, error) {
	keys := make([]string, len(checks))
	args := make([]any, 0, 2*len(checks)+1)
	for i, c := range checks {
		keys[i] = s.key("rl:"+c.Table, c.Key)
		args = append(args, emissionMicros(c.Rate.PerSecond()), max(c.Rate.Burst(), 1))
	}
	if peek {
		args = append(args, "1")
	} else {
		args = append(args, "0")
	}
	a, b, err := s.run(ctx, gcraScript, keys, args...)
	if err != nil {
		return Result{Refused: -1}, err
	}
	if a == 0 {
		return Result{OK: true, Refused: -1}, nil
	}
	return Result{RetryAfter: time.Duration(b) * time.Microsecond, Refused: int(a) - 1}, nil
}

// emissionMicros is the GCRA emission interval of a rate: µs per event,
// at least 1 (rates above a million a second are treated as that).
func emissionMicros(perSecond float64) int64 {
	if perSecond <= 0 {
		return math.MaxInt32
	}
	return max(int64(math.Round(1e6/perSecond)), 1)
}

// Acquire implements Store.
func (s *Redis) Acquire(ctx context.Context, member string, ttl time.Duration, counters ...Counter) (bool, error) {
	keys := make([]string, len(counters))
	args := []any{member, ttl.Microseconds()}
	for i, c := range counters {
		keys[i] = s.key("slots", c.Key)
		args = append(args, max(c.Max, 0))
	}
	a, _, err := s.run(ctx, acquireScript, keys, args...)
	return err == nil && a == 0, err
}

// Touch implements Store.
func (s *Redis) Touch(ctx context.Context, member string, ttl time.Duration, keys ...string) error {
	rk := make([]string, len(keys))
	args := []any{member, ttl.Microseconds()}
	for i, k := range keys {
		rk[i] = s.key("slots", k)
		args = append(args, -1)
	}
	_, _, err := s.run(ctx, acquireScript, rk, args...)
	return err
}

// Release implements Store.
func (s *Redis) Release(ctx context.Context, member string, keys ...string) error {
	rk := make([]string, len(keys))
	for i, k := range keys {
		rk[i] = s.key("slots", k)
	}
	_, _, err := s.run(ctx, releaseScript, rk, member)
	return err
}

// Count implements Store.
func (s *Redis) Count(ctx context.Context, key string) (int, error) {
	_, n, err := s.run(ctx, countScript, []string{s.key("slots", key)})
	return int(n), err
}

// run runs one script within the timeout and decodes its {a, b} reply.
// Any failure but a corrupt key marks the store down.
func (s *Redis) run(ctx context.Context, sc *redis.Script, keys []string, args ...any) (a, b int64, err error) {
	if s.down.Load() {
		return 0, 0, s.Health()
	}
	if len(keys) == 0 {
		return 0, 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, err := sc.Run(ctx, s.client, keys, args...).Int64Slice()
	if err == nil && len(v) != 2 {
		err = errors.New("unexpected script reply")
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			// The caller went away; that says nothing about Redis.
			return 0, 0, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
		s.setDown(err)
		return 0, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if v[0] == -1 {
		return 0, 0, fmt.Errorf("%w: %s", ErrCorrupt, keys[v[1]-1])
	}
	return v[0], v[1], nil
}

// ping is the probe: a write with a short life, so that a read-only or
// full Redis counts as down too.
func (s *Redis) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*s.timeout)
	defer cancel()
	return s.client.Set(ctx, s.prefix+"probe", "1", time.Second).Err()
}

// setDown marks the store down, tells OnChange once, and starts the probe.
func (s *Redis) setDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down.Load() {
		return
	}
	s.downErr = fmt.Errorf("%w: %s", ErrUnavailable, describe(err))
	s.down.Store(true)
	s.change(s.downErr)
	if s.probing {
		return
	}
	select {
	case <-s.closed:
		return
	default:
	}
	s.probing = true
	s.wg.Add(1)
	go s.probeLoop()
}

// probeLoop pings until Redis answers or the store closes.
func (s *Redis) probeLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.probe)
	defer tick.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-tick.C:
		}
		if err := s.ping(); err == nil {
			s.mu.Lock()
			s.probing = false
			s.downErr = nil
			s.down.Store(false)
			s.change(nil)
			s.mu.Unlock()
			return
		}
	}
}

// describe is a short reason for the operator log: Redis's own error
// class (WRONGPASS, NOAUTH, READONLY, OOM, …) or the network error. It
// never holds a password: neither Redis nor go-redis echo one.
func describe(err error) string {
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		if cls, _, ok := strings.Cut(msg, " "); ok {
			switch cls {
			case "WRONGPASS", "NOAUTH":
				return cls + ": Redis refused the password (check password_file or password_env)"
			}
		}
		return msg
	}
	if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
		return "timed out"
	}
	return err.Error()
}

func init() {
	// go-redis would log pool errors per request; the store reports each
	// transition once instead (Options.OnChange).
	redis.SetLogger(quietLogger{})
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
