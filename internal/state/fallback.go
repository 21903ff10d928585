package state

import (
	"context"
	"errors"
	"time"
)

// Fallback returns a Store that uses primary, and local for any operation
// primary cannot do because it is unavailable: [state] on_failure =
// "local", each replica falling back to its own limits while Redis is
// down (so N replicas allow up to N times a limit). A corrupt key is not
// unavailability: it fails the request either way.
//
// Slots are released and touched in both, so that a session opened during
// an outage is forgotten by local when it ends. Health is primary's: the
// host reports it (gauge, log) but stays ready.
func Fallback(primary, local Store) Store { return &fallback{primary, local} }

type fallback struct{ primary, local Store }

func unavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

func (f *fallback) Allow(ctx context.Context, checks ...Check) (Result, error) {
	r, err := f.primary.Allow(ctx, checks...)
	if unavailable(err) {
		return f.local.Allow(ctx, checks...)
	}
	return r, err
}

func (f *fallback) Limited(ctx context.Context, c Check) (Result, error) {
	r, err := f.primary.Limited(ctx, c)
	if unavailable(err) {
		return f.local.Limited(ctx, c)
	}
	return r, err
}

func (f *fallback) Acquire(ctx context.Context, member string, ttl time.Duration, counters ...Counter) (bool, error) {
	ok, err := f.primary.Acquire(ctx, member, ttl, counters...)
	if unavailable(err) {
		return f.local.Acquire(ctx, member, ttl, counters...)
	}
	return ok, err
}

func (f *fallback) Touch(ctx context.Context, member string, ttl time.Duration, keys ...string) error {
	err := f.primary.Touch(ctx, member, ttl, keys...)
	if unavailable(err) {
		return f.local.Touch(ctx, member, ttl, keys...)
	}
	return err
}

func (f *fallback) Release(ctx context.Context, member string, keys ...string) error {
	_ = f.local.Release(ctx, member, keys...)
	err := f.primary.Release(ctx, member, keys...)
	if unavailable(err) {
		return nil
	}
	return err
}

func (f *fallback) Count(ctx context.Context, key string) (int, error) {
	n, err := f.primary.Count(ctx, key)
	if unavailable(err) {
		return f.local.Count(ctx, key)
	}
	return n, err
}

func (f *fallback) AddUsage(ctx context.Context, key string, window time.Duration, delta []int64) ([]int64, time.Duration, error) {
	t, d, err := f.primary.AddUsage(ctx, key, window, delta)
	if unavailable(err) {
		return f.local.AddUsage(ctx, key, window, delta)
	}
	return t, d, err
}

func (f *fallback) Health() error { return f.primary.Health() }

func (f *fallback) Close() error { return errors.Join(f.primary.Close(), f.local.Close()) }
