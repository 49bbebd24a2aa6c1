package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hoopgw/hoop/api"
)

// APIError is a non-2xx answer of the gateway's API.
type APIError struct {
	StatusCode int    // 403
	Code       string // api.CodeForbidden
	Message    string // "no rule grants alice@example.com access to connection db-prod"
}

func (e *APIError) Error() string { return e.Message }

// Get calls GET {gateway}{path} with the bearer token and decodes the JSON answer into out.
func Get(ctx context.Context, hc *http.Client, gateway, path, token string, out any) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimRight(gateway, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", gateway, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", gateway, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("gateway %s: %w", u, err)
	}
	if resp.StatusCode/100 != 2 {
		var ae api.Error
		if json.Unmarshal(body, &ae) == nil && ae.Error != "" {
			return &APIError{StatusCode: resp.StatusCode, Code: ae.Code, Message: ae.Error}
		}
		return &APIError{StatusCode: resp.StatusCode, Message: fmt.Sprintf("gateway %s answered %s", u, resp.Status)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("gateway %s: decode answer: %w", u, err)
	}
	return nil
}
