package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Usage returns the bytes held by s, from the backend's running total when
// it keeps one (Usager), otherwise by listing everything.
func Usage(ctx context.Context, s Store) (int64, error) {
	if u, ok := s.(Usager); ok {
		return u.Usage(ctx)
	}
	var total int64
	for info, err := range s.List(ctx, "") {
		if err != nil {
			return 0, err
		}
		total += info.Size
	}
	return total, nil
}

// Prune deletes the least recently used blobs until s holds at most
// maxBytes, and returns what it deleted. It works on any backend through
// List and Delete. A blob deleted concurrently by someone else is skipped.
// Clients reading a pruned blob finish their read (disk keeps open files).
func Prune(ctx context.Context, s Store, maxBytes int64) (removed []Info, err error) {
	if maxBytes < 0 {
		return nil, fmt.Errorf("store: prune: negative limit %d", maxBytes)
	}
	var all []Info
	var total int64
	for info, err := range s.List(ctx, "") {
		if err != nil {
			return nil, fmt.Errorf("store: prune: %w", err)
		}
		all = append(all, info)
		total += info.Size
	}
	if total <= maxBytes {
		return nil, nil
	}
	slices.SortStableFunc(all, func(a, b Info) int { return a.LastUsed.Compare(b.LastUsed) })
	for _, info := range all {
		if total <= maxBytes {
			break
		}
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		switch err := s.Delete(ctx, info.Key); {
		case err == nil:
			removed = append(removed, info)
			total -= info.Size
		case errors.Is(err, ErrNotFound):
			total -= info.Size
		default:
			return removed, fmt.Errorf("store: prune %s: %w", info.Key, err)
		}
	}
	return removed, nil
}
