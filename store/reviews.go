package store

import (
	"context"
	"fmt"
	"time"
)

// Review is a review as the store keeps it: its state and who asked, as columns to search
// by, and the whole review as JSON (api.Review).
type Review struct {
	ID         string    // "r-…"
	State      string    // "pending", "approved", …
	Requester  string    // "alice@example.com"
	Connection string    // "db-prod"
	CreatedAt  time.Time //
	Data       string    // the api.Review, JSON
}

// PutReview writes a review, new or changed.
func (s *Store) PutReview(ctx context.Context, r *Review) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE reviews SET state = ?, data = ? WHERE id = ?`), r.State, r.Data, r.ID)
	if err != nil {
		return fmt.Errorf("review %s: %w", r.ID, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO reviews (id, state, requester, connection, created_at, data) VALUES (?, ?, ?, ?, ?, ?)`),
		r.ID, r.State, r.Requester, r.Connection, r.CreatedAt.UnixMicro(), r.Data); err != nil {
		return fmt.Errorf("review %s: %w", r.ID, err)
	}
	return nil
}

// Reviews returns the reviews in a state ("" for all), oldest first, at most limit.
func (s *Store) Reviews(ctx context.Context, state string, limit int) ([]*Review, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, state, requester, connection, created_at, data FROM reviews
		WHERE ? = '' OR state = ? ORDER BY created_at LIMIT ?`), state, state, limit)
	if err != nil {
		return nil, fmt.Errorf("reviews: %w", err)
	}
	defer rows.Close()
	var out []*Review
	for rows.Next() {
		var r Review
		var created int64
		if err := rows.Scan(&r.ID, &r.State, &r.Requester, &r.Connection, &created, &r.Data); err != nil {
			return nil, fmt.Errorf("reviews: %w", err)
		}
		r.CreatedAt = time.UnixMicro(created)
		out = append(out, &r)
	}
	return out, rows.Err()
}
