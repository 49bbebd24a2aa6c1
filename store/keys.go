package store

import (
	"context"
	"fmt"
	"time"
)

// ClusterKey returns the value of the key name that every gateway sharing the store uses,
// storing proposed first when there is none yet. Two gateways starting together both
// propose; the first to commit wins and both return its value.
func (s *Store) ClusterKey(ctx context.Context, name, proposed string) (string, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO cluster_keys (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
		name, proposed, time.Now().UnixMicro()); err != nil {
		return "", fmt.Errorf("cluster key %s: %w", name, err)
	}
	var v string
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM cluster_keys WHERE name = ?`), name).Scan(&v); err != nil {
		return "", fmt.Errorf("cluster key %s: %w", name, err)
	}
	return v, nil
}
