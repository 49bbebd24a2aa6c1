package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// OpenTunnel records a tunnel that has just opened.
func (s *Store) OpenTunnel(ctx context.Context, t *Tunnel) error {
	groups, err := json.Marshal(t.Groups)
	if err != nil {
		return fmt.Errorf("open tunnel %s: %w", t.ID, err)
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO tunnels (id, gateway_id, subject, issuer, email, groups_json, connection, remote_addr, started_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		t.ID, t.GatewayID, t.Subject, t.Issuer, t.Email, string(groups), t.Connection, t.RemoteAddr, t.StartedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("open tunnel %s: %w", t.ID, err)
	}
	return nil
}

// CloseTunnel records why and when a tunnel ended.
func (s *Store) CloseTunnel(ctx context.Context, id string, at time.Time, reason string) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE tunnels SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL`),
		at.UnixMicro(), reason, id)
	if err != nil {
		return fmt.Errorf("close tunnel %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("close tunnel %s: %w", id, ErrNotFound)
	}
	return nil
}

// CloseOpenTunnels ends every tunnel of the gateway still marked open, as at start-up
// after a crash. It returns how many it closed.
func (s *Store) CloseOpenTunnels(ctx context.Context, gatewayID string, at time.Time, reason string) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE tunnels SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL AND gateway_id = ?`), at.UnixMicro(), reason, gatewayID)
	if err != nil {
		return 0, fmt.Errorf("close open tunnels: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// GetTunnel returns one tunnel.
func (s *Store) GetTunnel(ctx context.Context, id string) (*Tunnel, error) {
	var (
		t       Tunnel
		groups  string
		started int64
		ended   sql.NullInt64
		reason  sql.NullString
	)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, gateway_id, subject, issuer, email, groups_json, connection, remote_addr, started_at, ended_at, end_reason
		FROM tunnels WHERE id = ?`), id).Scan(&t.ID, &t.GatewayID, &t.Subject, &t.Issuer, &t.Email, &groups, &t.Connection, &t.RemoteAddr, &started, &ended, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tunnel %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tunnel %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(groups), &t.Groups); err != nil {
		return nil, fmt.Errorf("tunnel %s: groups: %w", id, err)
	}
	t.StartedAt = time.UnixMicro(started)
	if ended.Valid {
		t.EndedAt = time.UnixMicro(ended.Int64)
	}
	t.EndReason = reason.String
	return &t, nil
}
